/** CHILDREN_MANY (v5): each named parent's children, or ABSENT_PARENT for one absent or out of scope. */
import { HashIndex } from "../../core/hash-index.ts";
import { ABSENT_PARENT, OP_CHILDREN_MANY } from "../wire.ts";
import { readHashBatch, type V5Handler } from "./context.ts";
import { childrenMetered } from "./walk.ts";

/**
 * Bytes of parents scanned after which the answers so far are sent even though they are few: the
 * children of a large file's 1 MiB chunks are empty lists of 4 bytes each, so a request for 1,024
 * chunks sent nothing while it read and scanned 1 GiB, longer than the asker's idle deadline, and
 * the asker dropped us, asked again, and never got past discovery.
 */
export const PROGRESS_FLUSH_BYTES = 16 << 20;

/** Each distinct target is scanned once (a request naming one large blob thousands of times costs one scan), in metered slices. */
export const serveChildren: V5Handler = async (ctx, { conn, reader, out, lane, meter }) => {
  const targets = await readHashBatch(reader);
  reader.deadline(undefined);
  const scope = ctx.requireScope(conn);
  await lane.run(async () => {
    const snapshot = ctx.store.reader();
    // CHILDREN reads every target's bytes, usually for the first time (a fetch asks for a level's
    // children before its blobs): verify the small ones in one batch first.
    snapshot.checkMany(targets);
    const distinct = new HashIndex(Math.max(16, targets.length));
    const answers: (Uint8Array[] | null)[] = [];
    let scanned = 0;
    for (const target of targets) {
      const { entry, added } = distinct.insert(target);
      if (added) {
        const listed = childrenMetered(snapshot, scope, target, true, meter);
        answers[entry] = listed instanceof Promise ? await listed : listed;
        if (answers[entry]) scanned += snapshot.sizeOf?.(target) ?? snapshot.get(target)?.length ?? 0;
      }
      const children = answers[entry]!;
      out.writeU32(children ? children.length : ABSENT_PARENT);
      for (const child of children ?? []) out.write(child);
      const turn = meter.spend(4 + (children?.length ?? 0) * 32);
      if (turn) await turn;
      if (out.full || scanned >= PROGRESS_FLUSH_BYTES) {
        scanned = 0;
        await out.flush();
      }
    }
    await out.flush();
  });
  ctx.events.onRequest?.(OP_CHILDREN_MANY, targets.length);
};

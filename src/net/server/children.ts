/** CHILDREN_MANY (v5): each named parent's children, or ABSENT_PARENT for one absent or out of scope. */
import { HashIndex } from "../../core/hash-index.ts";
import { ABSENT_PARENT, OP_CHILDREN_MANY } from "../wire.ts";
import { readHashBatch, type V5Handler } from "./context.ts";
import { childrenMetered } from "./walk.ts";

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
    for (const target of targets) {
      const { entry, added } = distinct.insert(target);
      if (added) answers[entry] = await childrenMetered(snapshot, scope, target, true, meter);
      const children = answers[entry]!;
      out.writeU32(children ? children.length : ABSENT_PARENT);
      for (const child of children ?? []) out.write(child);
      await meter.spend(4 + (children?.length ?? 0) * 32);
      if (out.full) await out.flush();
    }
    await out.flush();
  });
  ctx.events.onRequest?.(OP_CHILDREN_MANY, targets.length);
};

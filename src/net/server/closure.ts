/** CLOSURE (v5): a root's missing closure in one reply, all or nothing (see wire.ts). */
import { HashIndex } from "../../core/hash-index.ts";
import { ProtocolError } from "../stream-io.ts";
import { CLOSURE_END, LIMITS, OP_CLOSURE } from "../wire.ts";
import type { V5Handler } from "./context.ts";
import { missingClosure } from "./walk.ts";

export const serveClosure: V5Handler = async (ctx, { conn, reader, out, lane, meter }) => {
  const root = await reader.readExactly(32);
  const count = await reader.readU32();
  if (count > LIMITS.maxBatch) throw new ProtocolError(`CLOSURE with ${count} have-hashes (limit ${LIMITS.maxBatch})`);
  const haveBytes = await reader.readExactly(count * 32);
  const budget = await reader.readU32();
  reader.deadline(undefined);
  if (budget > LIMITS.maxClosureBytes) throw new ProtocolError(`CLOSURE budget of ${budget} bytes (limit ${LIMITS.maxClosureBytes})`);
  const scope = ctx.requireScope(conn);
  await lane.run(async () => {
    const have = new HashIndex(Math.max(16, count));
    for (let i = 0; i < count; i++) have.insert(haveBytes.subarray(i * 32, i * 32 + 32));
    const snapshot = ctx.store.reader();
    // The walk is bounded by `budget` bytes and LIMITS.maxClosureBlobs blobs: one slice at most.
    const closure = missingClosure(snapshot, scope, root, have, budget) ?? [];
    await meter.spend(budget);
    for (const hash of closure) {
      const bytes = snapshot.get(hash)!;
      out.write(hash);
      out.writeU64(bytes.length);
      out.write(bytes);
      await meter.spend(bytes.length + 40);
      if (out.full) await out.flush();
    }
    out.write(CLOSURE_END);
    await out.flush();
  });
  ctx.events.onRequest?.(OP_CLOSURE, 1);
};

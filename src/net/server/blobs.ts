/** GET_BLOBS (v5): the bytes of each named blob in scope, or the all-ones length. */
import { OP_GET_BLOBS } from "../wire.ts";
import { readHashBatch, type V5Handler, writeBlob } from "./context.ts";

export const serveBlobs: V5Handler = async (ctx, { conn, reader, out, lane, meter }) => {
  const targets = await readHashBatch(reader);
  reader.deadline(undefined);
  const scope = ctx.requireScope(conn);
  await lane.run(async () => {
    const snapshot = ctx.store.reader();
    for (const target of targets) {
      const turn = meter.spend(writeBlob(out, snapshot, scope, target));
      if (turn) await turn;
      if (out.full) await out.flush();
    }
    await out.flush();
  });
  ctx.events.onRequest?.(OP_GET_BLOBS, targets.length);
};

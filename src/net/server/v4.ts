/** `/triblespace/pile-sync/4`, the reference's form: one operation per stream (AUTH, GET_BLOB, CHILDREN). */
import type { Connection, Stream } from "@libp2p/interface";
import { type Lane, WorkMeter } from "../budget.ts";
import { BufferedWriter, sendAll, StreamReader } from "../stream-io.ts";
import { AUTH_OK, AUTH_REJECTED, OP_AUTH, OP_CHILDREN, OP_GET_BLOB } from "../wire.ts";
import { type ServerContext, writeBlob } from "./context.ts";
import { childrenMetered } from "./walk.ts";

/** Serves one v4 stream: op[1] hash[32], answered, then the stream ends. Anything unexpected gets no response bytes. */
export async function serveV4(ctx: ServerContext, stream: Stream, conn: Connection, lane: Lane): Promise<void> {
  const { budget } = ctx;
  const reader = new StreamReader(stream, { progressMs: budget.progressMs, idleMs: budget.frameMs, maxUnread: budget.maxUnreadBytes });
  reader.deadline(budget.frameMs);
  const op = await reader.readU8();
  const target = await reader.readExactly(32);
  reader.deadline(undefined);
  if (op === OP_AUTH) {
    const ok = (await ctx.authenticate(conn, target.slice(), [])) === true;
    await sendAll(stream, new Uint8Array([ok ? AUTH_OK : AUTH_REJECTED]));
    return;
  }
  const scope = ctx.scopeOf(conn);
  if (!scope) return; // unauthenticated: close with no response bytes
  if (op !== OP_GET_BLOB && op !== OP_CHILDREN) return; // unknown ops (including the retired 0x01 and 0x04): no response bytes
  const snapshot = ctx.store.reader();
  const out = new BufferedWriter(stream);
  await lane.run(async () => {
    const meter = new WorkMeter(stream, lane, budget.sliceBytes);
    if (op === OP_GET_BLOB) await meter.spend(writeBlob(out, snapshot, scope, target));
    else {
      for (const child of (await childrenMetered(snapshot, scope, target, false, meter)) ?? []) out.write(child);
      out.write(new Uint8Array(32));
    }
    await out.flush();
  });
  ctx.events.onRequest?.(op, 1);
}

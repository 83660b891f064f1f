/** `/tribles/pile-sync/5`: one long-lived stream per connection, its frames dispatched to one handler per op. */
import type { Connection, Stream } from "@libp2p/interface";
import { type Lane, WorkMeter } from "../budget.ts";
import { BufferedWriter, ProtocolError, StreamReader } from "../stream-io.ts";
import { OP_AUTH, OP_CHAIN, OP_CHILDREN_MANY, OP_CLOSURE, OP_GET_BLOBS, OP_HEADS, OP_PUSH_HEAD, OP_REVOCATIONS } from "../wire.ts";
import { serveAuth } from "./auth.ts";
import { serveBlobs } from "./blobs.ts";
import { serveChain } from "./chain.ts";
import { serveChildren } from "./children.ts";
import { serveClosure } from "./closure.ts";
import type { ServerContext, V5Handler } from "./context.ts";
import { serveHeads } from "./heads.ts";
import { servePushHead } from "./push-head.ts";
import { serveRevocations } from "./revocations.ts";

const HANDLERS = new Map<number, V5Handler>([
  [OP_AUTH, serveAuth],
  [OP_REVOCATIONS, serveRevocations],
  [OP_CHAIN, serveChain],
  [OP_HEADS, serveHeads],
  [OP_CLOSURE, serveClosure],
  [OP_PUSH_HEAD, servePushHead],
  [OP_GET_BLOBS, serveBlobs],
  [OP_CHILDREN_MANY, serveChildren],
]);

/**
 * Serves one v5 stream: frames are read whole under a deadline (a peer that trickles or stalls
 * one is cut off), then answered on the connection's lane in metered slices (budget.ts).
 */
export async function serveV5(ctx: ServerContext, stream: Stream, conn: Connection, lane: Lane): Promise<void> {
  const { budget } = ctx;
  const reader = new StreamReader(stream, { progressMs: budget.progressMs, maxUnread: budget.maxUnreadBytes });
  const out = new BufferedWriter(stream);
  const meter = new WorkMeter(stream, lane, budget.sliceBytes);
  const request = { stream, conn, reader, out, lane, meter };
  // Between frames a member's stream may idle (a sync keeps it for hours); a stranger's
  // connection is closed by admission.ts before long.
  while (!(await reader.atEnd())) {
    reader.deadline(budget.frameMs);
    const op = await reader.readU8();
    const handler = ctx.options.withoutOps?.includes(op) ? undefined : HANDLERS.get(op);
    if (!handler) throw new ProtocolError(`unknown operation 0x${op.toString(16)}`);
    await handler(ctx, request);
  }
}

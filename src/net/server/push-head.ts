/** PUSH_HEAD (v5): a branch head handed over by its publisher, admitted like a gossiped one. */
import type { Connection } from "@libp2p/interface";
import { bytesEqual } from "../../core/bytes.ts";
import { decodeHeadFrame, HEAD_FRAME_LEN, type HeadFrame } from "../gossip.ts";
import { peerPublicKey } from "../peer-key.ts";
import { ProtocolError, sendAll } from "../stream-io.ts";
import { OP_PUSH_HEAD, PUSH_ACCEPTED, PUSH_REFUSED } from "../wire.ts";
import type { ServerContext, V5Handler } from "./context.ts";
import { describe, netLogger } from "../log.ts";

const log = netLogger("server:push-head");

export const servePushHead: V5Handler = async (ctx, { stream, conn, reader }) => {
  const frame = decodeHeadFrame(await reader.readExactly(HEAD_FRAME_LEN));
  reader.deadline(undefined);
  if (!frame) throw new ProtocolError("PUSH_HEAD without a HEAD frame");
  const accepted = await admitPushedHead(ctx, frame, conn);
  await sendAll(stream, new Uint8Array([accepted ? PUSH_ACCEPTED : PUSH_REFUSED]));
  if (accepted) ctx.events.onRequest?.(OP_PUSH_HEAD, 1);
};

/** Only a peer whose AUTH succeeded on this connection may push (refused, not an error, without), and only heads it published. */
async function admitPushedHead(ctx: ServerContext, frame: HeadFrame, conn: Connection): Promise<boolean> {
  const pusher = peerPublicKey(conn.remotePeer);
  const onPushedHead = ctx.options.onPushedHead;
  if (!onPushedHead || !pusher || !ctx.scopeOf(conn) || !bytesEqual(pusher, frame.publisher)) return false;
  try {
    return await onPushedHead(frame, pusher);
  } catch (err) {
    log.error("admitting a pushed head threw (refused): %s", describe(err));
    return false;
  }
}

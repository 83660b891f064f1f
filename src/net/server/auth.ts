/** AUTH (v5): the capability and its chain's blobs, read under tight bounds before anything is proven. */
import { readAuthFrame } from "../auth-frame.ts";
import { AUTH_OK, encodeRefusal } from "../auth-reply.ts";
import { ProtocolError, sendAll } from "../stream-io.ts";
import type { V5Handler } from "./context.ts";

/**
 * A v5 AUTH frame, read under its own deadline and size bounds (auth-frame.ts), with at most
 * budget.authStreamsPerConnection read at once per connection: before AUTH succeeds a peer has
 * proven nothing, so what it can make us buffer is kept small.
 */
export const serveAuth: V5Handler = async (ctx, { stream, conn, reader }) => {
  if (!ctx.authReads.enter(conn.id)) throw new ProtocolError(`more than ${ctx.budget.authStreamsPerConnection} AUTH frames at once on one connection`);
  let result: Awaited<ReturnType<typeof ctx.authenticate>>;
  try {
    reader.deadline(ctx.budget.authFrameMs);
    const { capHandle, chain } = await readAuthFrame(reader, ctx.authLimits);
    reader.deadline(undefined);
    result = await ctx.authenticate(conn, capHandle, chain);
  } finally {
    ctx.authReads.leave(conn.id);
  }
  await sendAll(stream, result === true ? new Uint8Array([AUTH_OK]) : encodeRefusal(result?.refusal));
};

/** CHAIN (v5): the verified capability chain this server holds for a key (none when it holds none). */
import { LIMITS, OP_CHAIN, writeBlobList } from "../wire.ts";
import type { V5Handler } from "./context.ts";

export const serveChain: V5Handler = async (ctx, { conn, reader, out }) => {
  const key = (await reader.readExactly(32)).slice();
  reader.deadline(undefined);
  ctx.requireScope(conn);
  writeBlobList(out, (ctx.policy.chainOf?.(key) ?? []).slice(0, LIMITS.maxAuthBlobs));
  await out.flush();
  ctx.events.onRequest?.(OP_CHAIN, 1);
};

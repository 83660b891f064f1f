/** HEADS (v5): every branch whose head the connection's scope may read. */
import type { V5Handler } from "./context.ts";

export const serveHeads: V5Handler = async (ctx, { conn, reader, out }) => {
  reader.deadline(undefined);
  const scope = ctx.requireScope(conn);
  const snapshot = ctx.store.reader();
  const heads: Uint8Array[] = [];
  for (const id of ctx.store.branches()) {
    const head = ctx.store.head(id);
    if (head && snapshot.has(head) && scope.inScope(head, snapshot)) heads.push(id, head);
  }
  out.writeU32(heads.length / 2);
  for (const part of heads) out.write(part);
  await out.flush();
};

/** REVOCATIONS (v5): takes the client's revocation blobs (bounded, verified by the policy), answers with ours. */
import { ProtocolError } from "../stream-io.ts";
import { LIMITS, OP_REVOCATIONS, readBlobList, writeBlobList } from "../wire.ts";
import type { V5Handler } from "./context.ts";

export const serveRevocations: V5Handler = async (ctx, { conn, reader, out }) => {
  // Checked before the list is read: a peer without a grant makes us buffer nothing.
  ctx.requireScope(conn);
  const blobs = await readBlobList(reader, LIMITS.maxRevocationBlobs, LIMITS.maxRevocationBlobBytes, "REVOCATIONS");
  reader.deadline(undefined);
  if (!ctx.countRevocationBlobs(conn, blobs.length)) throw new ProtocolError(`more than ${LIMITS.maxRevocationBlobsPerConnection} revocation blobs on one connection`);
  if (blobs.length) ctx.policy.learnRevocations?.(blobs, conn.remotePeer.toString());
  writeBlobList(out, (ctx.policy.revocationBlobs?.() ?? []).slice(-LIMITS.maxRevocationBlobs));
  await out.flush();
  ctx.events.onRequest?.(OP_REVOCATIONS, blobs.length);
};

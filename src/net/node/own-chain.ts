/** Chain completion: a member fetches the blobs of its own capability chain from a peer that accepted it. */
import { MAX_CHAIN_DEPTH } from "../../auth/attributes.ts";
import { chainBlobs, nextInChain } from "../../auth/capability.ts";
import { hash } from "../../core/blake3.ts";
import { bytesEqual, isZero } from "../../core/bytes.ts";
import type { Hash, Store } from "../../core/store.ts";
import type { Credentials, SyncClient } from "../client.ts";

/**
 * A member's pile may lack the blobs of its own capability (they were written to the issuer's
 * pile). Once a peer accepted us (the issuer can verify us from its own store), fetch the chain
 * from it, store it, and set `credentials.chain`. True when the chain was missing and is now
 * known (peers that rejected us for lack of it may then be asked again).
 */
export async function completeOwnChain(client: SyncClient, credentials: Credentials, store: Store): Promise<boolean> {
  const { capHandle } = credentials;
  if (isZero(capHandle) || credentials.chain.length > 0) return false;
  let wanted: Hash | undefined = capHandle;
  for (let depth = 0; wanted && depth <= MAX_CHAIN_DEPTH * 2 + 1; depth++) {
    let bytes = store.reader().get(wanted);
    if (!bytes) {
      const [fetched] = await client.getBlobs([wanted]);
      if (!fetched || !bytesEqual(hash(fetched), wanted)) break;
      store.put(fetched);
      bytes = fetched;
    }
    wanted = nextInChain(bytes);
  }
  credentials.chain = chainBlobs(capHandle, store.reader());
  return credentials.chain.length > 0;
}

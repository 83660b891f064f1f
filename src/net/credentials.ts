/** What a node presents to the peers it connects to. */
import { chainBlobs } from "../auth/capability.ts";
import type { Hash, Store } from "../core/store.ts";
import type { Credentials } from "./client.ts";

/**
 * Our capability's handle and the blobs of its chain found in `store` (the peer verifies the rest
 * from its own store); with no capability, the all-zero handle that presents none.
 */
export function credentialsFor(store: Store, capability: Hash | null): Credentials {
  if (!capability) return { capHandle: new Uint8Array(32), chain: [] };
  return { capHandle: capability, chain: chainBlobs(capability, store.reader()) };
}

/** Head push: a new head sent straight to every connected peer that takes pushes, one hop before gossip. */
import { toHex } from "../../core/bytes.ts";
import type { BranchId, Hash } from "../../core/store.ts";
import type { SyncClient } from "../client.ts";
import { encodeHeadFrame } from "../gossip.ts";
import type { NodeLife } from "./life.ts";

/**
 * A pushed head unanswered this long stops pushes to that peer (gossip still reaches it). Above
 * the CLI's 5 s wait for a publisher's capability, so a slow admission is not taken for a stall.
 */
export const PUSH_TIMEOUT_MS = 10_000;

/**
 * Sends a new head to every open client that takes pushes (gossip still carries it, to everyone
 * else and to peers that predate the op). Fire and forget: a slow peer never holds publishing up.
 * Returns how many peers it was offered to.
 */
export function pushHead(life: NodeLife, clients: ReadonlyMap<string, SyncClient>, publisher: Uint8Array, branchId: BranchId, head: Hash): number {
  if (life.stopped || clients.size === 0) return 0;
  let sent = 0;
  const frame = encodeHeadFrame({ branchId, head, publisher });
  for (const [peer, client] of clients) {
    if (!client.isOpen || !client.pushSupported) continue;
    sent++;
    life.background(`pushing a head to ${peer}`, async () => {
      const result = await client.pushHead(frame, PUSH_TIMEOUT_MS);
      if (result !== "skipped" && !life.stopped) life.emit({ type: "head-pushed", peer, branchId: toHex(branchId), head: toHex(head), result });
    });
  }
  return sent;
}

/** Peers a new head is pushed to now: those with an open, authenticated client that takes pushes. */
export function pushPeers(clients: ReadonlyMap<string, SyncClient>): string[] {
  return [...clients].flatMap(([peer, client]) => (client.isOpen && client.pushSupported ? [peer] : []));
}

/**
 * `Peer` overhead: reads and puts through a Peer against the same calls on the wrapped store, with
 * 1, 200 and 10,000 branches, on a pile and in memory. The network side is a stub that records
 * what the Peer publishes: this measures the wrapper's own work, not the network's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genId } from "../src/core/id.ts";
import { MemoryStore } from "../src/core/memory-store.ts";
import type { Store } from "../src/core/store.ts";
import { Peer, type PeerNetwork } from "../src/net/peer.ts";
import { Pile } from "../src/pile/pile.ts";
import { type BenchRow, report, timeMedianMs } from "./lib.ts";

const READS = 1000;
const PUTS = 1000;

class RecordingNetwork implements PeerNetwork {
  published = 0;
  takeDelivered() {
    return [];
  }
  publishHead() {
    this.published++;
  }
  announce() {}
}

function withBranches(store: Store, count: number): void {
  const metas = store.putMany(Array.from({ length: count }, (_, i) => new TextEncoder().encode(`meta ${i}`)));
  for (const meta of metas) store.update(genId(), null, meta);
}

function measure(label: string, store: Store, branches: number, rows: BenchRow[]): void {
  withBranches(store, branches);
  const peer = new Peer(store, new RecordingNetwork());
  peer.branches(); // first pass publishes every branch once
  let salt = 0;
  const blobs = () => Array.from({ length: PUTS }, () => new TextEncoder().encode(`blob ${label} ${branches} ${salt++}`));
  const cases: [string, Store][] = [
    ["direct", store],
    ["through Peer", peer],
  ];
  for (const [impl, target] of cases) {
    const listMs = timeMedianMs(() => {
      for (let i = 0; i < READS; i++) target.branches();
    });
    const putMs = timeMedianMs(() => {
      for (const blob of blobs()) target.put(blob);
    });
    const name = (what: string) => `${what}, ${label}, ${branches} branches`;
    rows.push({ name: name(`${READS} listBranches`), impl, value: listMs, unit: "ms", higherIsBetter: false, ...(impl === "direct" ? {} : { referenceImpl: "direct" }) });
    rows.push({ name: name(`${PUTS} puts`), impl, value: putMs, unit: "ms", higherIsBetter: false, ...(impl === "direct" ? {} : { referenceImpl: "direct" }) });
  }
}

const rows: BenchRow[] = [];
const dir = mkdtempSync(join(tmpdir(), "tribles-peer-bench-"));
try {
  for (const branches of [1, 200, 10_000]) {
    measure("memory", new MemoryStore(), branches, rows);
    const pile = Pile.open(join(dir, `b${branches}.pile`), { create: true });
    measure("pile", pile, branches, rows);
    pile.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
report("peer", rows);

/**
 * The address book beside the pile: untrusted on load (bad entries dropped, a file that does not
 * parse saved aside before it is replaced, bounded in size), written atomically; and end to end, a
 * sync restarted with no --peers reconnects to the peer it remembered.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AddressBook, MAX_ADDRS, MAX_FILE_BYTES, MAX_PEERS } from "../../src/net/address-book.ts";
import { tempDir } from "../pile/helpers.ts";
import { firstAddr, LOOPBACK_LISTEN, listenFor, makeTeam, type Team } from "./e2e-helpers.ts";

const PEER = "12D3KooWRkgwB9DdDRYppGqeUZaF1mN6G78aa6t45CvndhJEWb6h";
const ADDR = `/ip4/127.0.0.1/tcp/4717/p2p/${PEER}`;

let team: Team | undefined;
const temps: { cleanup(): void }[] = [];
afterEach(async () => {
  await team?.cleanup();
  team = undefined;
  for (const t of temps.splice(0)) t.cleanup();
}, 30_000); // stopping three syncs can outlast the default 5 s hook limit on a loaded machine

function temp() {
  const t = tempDir("tribles-book-");
  temps.push(t);
  return t;
}

test("bad entries are dropped with a warning; a file that does not parse is saved aside, then replaced atomically", () => {
  const t = temp();
  const path = t.path("n.pile.peers.json");
  const peers = [
    { peer: PEER, role: "peer", addrs: [ADDR], lastSeen: 1 },
    { peer: "not-a-peer-id", role: "peer", addrs: [], lastSeen: 1 },
    { peer: PEER, role: "boss", addrs: [], lastSeen: 1 },
    { peer: PEER, role: "peer", addrs: ["/ip4/garbage"], lastSeen: 1 },
    { peer: PEER, role: "peer", addrs: Array(MAX_ADDRS + 1).fill(ADDR), lastSeen: 1 },
  ];
  writeFileSync(path, JSON.stringify({ version: 1, peers }));
  const { book, warnings } = AddressBook.load(path);
  expect(book.entries().map((e) => e.peer)).toEqual([PEER]);
  expect(warnings).toEqual([`${path}: dropped 4 invalid or surplus entries`]);

  writeFileSync(path, "{ not json");
  const broken = AddressBook.load(path);
  expect(broken.book.entries()).toEqual([]);
  expect(broken.warnings[0]).toContain("ignored");
  broken.book.remember(PEER, [ADDR], "peer", 5);
  broken.book.save();
  expect(readFileSync(`${path}.invalid`, "utf8")).toBe("{ not json");
  expect(JSON.parse(readFileSync(path, "utf8")).peers).toEqual([{ peer: PEER, role: "peer", addrs: [ADDR], lastSeen: 5 }]);
  // No temporary file left behind.
  expect(readdirSync(t.dir).sort()).toEqual(["n.pile.peers.json", "n.pile.peers.json.invalid"]);

  writeFileSync(path, " ".repeat(MAX_FILE_BYTES + 1));
  expect(AddressBook.load(path).warnings[0]).toContain(`more than ${MAX_FILE_BYTES}`);
});

test("a peer reached through a relay is remembered at an address that dials it, not the relay", () => {
  const t = temp();
  const relay = "12D3KooWHsP8fyT3a5VnERNFb4s8BgQ7dxM45nZBwo1Lzwbm4HcQ";
  const circuit = `/ip4/11.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit`;
  const { book } = AddressBook.load(t.path("c.peers.json"));
  // A relayed connection's remote address ends at the circuit; the relay's own address is not PEER's.
  book.remember(PEER, [circuit, `/ip4/11.0.0.1/tcp/4001/p2p/${relay}`, "/ip4/10.0.0.7/tcp/4717"], "peer");
  expect(book.get(PEER)!.addrs).toEqual([`${circuit}/p2p/${PEER}`, `/ip4/10.0.0.7/tcp/4717/p2p/${PEER}`]);
  // A book written before the check held the bare circuit: it loads as the dialable address.
  const old = t.path("old.peers.json");
  writeFileSync(old, JSON.stringify({ version: 1, peers: [{ peer: PEER, role: "peer", addrs: [circuit, ADDR], lastSeen: 1 }] }));
  const loaded = AddressBook.load(old);
  expect(loaded.warnings).toEqual([]);
  expect(loaded.book.get(PEER)!.addrs).toEqual([`${circuit}/p2p/${PEER}`, ADDR]);
  for (const target of loaded.book.targets()) for (const a of target.addrs) expect(a.getComponents().findLast((c) => c.name === "p2p")?.value).toBe(PEER);
});

test("the book is bounded: past MAX_PEERS the longest unseen peer goes", async () => {
  const t = temp();
  const { book } = AddressBook.load(t.path("b.peers.json"));
  const { generateKeyPair } = await import("@libp2p/crypto/keys");
  const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
  const ids: string[] = [];
  for (let i = 0; i <= MAX_PEERS; i++) ids.push(peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString());
  for (const [i, id] of ids.entries()) book.remember(id, [`/ip4/10.0.0.1/tcp/${1000 + i}/p2p/${id}`], "peer", 1000 + i);
  expect(book.entries()).toHaveLength(MAX_PEERS);
  expect(book.get(ids[0]!)).toBeUndefined();
  expect(book.get(ids[MAX_PEERS]!)).toBeDefined();
});

test("a sync restarted with no --peers reconnects to the peer it remembered, and receives its commits", async () => {
  team = await makeTeam(["a", "b"]);
  const a = team.sync("a", listenFor("tcp"));
  const aAddr = firstAddr(await a.waitFor((e) => e.event === "listening"));
  const first = team.sync("b", ["--peers", aAddr]);
  await first.waitFor((e) => e.event === "auth" && e.accepted === true);
  await first.stop();
  const bookPath = join(team.dir, "b.pile.peers.json");
  expect(existsSync(bookPath)).toBe(true);
  const saved = JSON.parse(readFileSync(bookPath, "utf8"));
  const aId = team.members.a!.peerId;
  expect(saved.peers.map((p: { peer: string }) => p.peer)).toEqual([aId]);
  expect(saved.peers[0].addrs).toContain(aAddr);

  // No --peers: only the book can tell b where a is.
  const b = team.sync("b", LOOPBACK_LISTEN);
  await b.waitFor((e) => e.event === "connected" && e.peer === aId, 15_000);
  const commit = await team.commit("a", "after b's restart", { "r.txt": "remembered" });
  await b.waitFor((e) => e.event === "received" && e.head === commit, 15_000);
}, 60_000);

/**
 * Peers remembered beside the pile (`notes.pile.peers.json`): teammates that authenticated with a
 * valid capability and relays we dialled, with their last working addresses, so a sync started
 * with no `--peers` reconnects to the team after a restart or a change of network (addresses that
 * no longer answer are looked past through peer routing, dial-target.ts).
 *
 * The file is untrusted input like any other: bounded in size, every entry checked, bad entries
 * dropped with a warning, and a file that does not parse is saved aside before it is replaced.
 * Writes are atomic (temporary file, fsync, rename) and bounded: at most MAX_PEERS entries of at
 * most MAX_ADDRS addresses each; the longest unseen go first.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import type { PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { DialTarget } from "./dial-target.ts";
import type { Host } from "./host.ts";
import { peerIdFromString } from "./peer-key.ts";

export const MAX_PEERS = 64;
export const MAX_ADDRS = 8;
export const MAX_ADDR_CHARS = 300;
export const MAX_FILE_BYTES = 256 << 10;
const VERSION = 1;
/** The protocol a circuit relay v2 server speaks: a peer that serves it is remembered as a relay. */
export const RELAY_HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";

export type PeerRole = "peer" | "relay";

export interface BookEntry {
  peer: string;
  role: PeerRole;
  /** Last working addresses, the one that worked last first. */
  addrs: string[];
  /** When it was last connected (unix ms). */
  lastSeen: number;
}

/** Where the address book of a pile lives. */
export const addressBookPath = (pilePath: string) => `${pilePath}.peers.json`;

export class AddressBook {
  private readonly peers = new Map<string, BookEntry>();
  private invalidFile = false;

  private constructor(readonly path: string) {}

  /** Loads the book at `path` (none yet: empty); what could not be used is in `warnings`. */
  static load(path: string): { book: AddressBook; warnings: string[] } {
    const book = new AddressBook(path);
    const warnings: string[] = [];
    if (!existsSync(path)) return { book, warnings };
    let data: unknown;
    try {
      const size = statSync(path).size;
      if (size > MAX_FILE_BYTES) throw new Error(`${size} bytes, more than ${MAX_FILE_BYTES}`);
      data = JSON.parse(readFileSync(path, "utf8"));
      if (typeof data !== "object" || data === null || (data as { version?: unknown }).version !== VERSION || !Array.isArray((data as { peers?: unknown }).peers)) {
        throw new Error(`not a version ${VERSION} address book`);
      }
    } catch (err) {
      book.invalidFile = true;
      warnings.push(`${path}: ignored (${(err as Error).message.split("\n")[0]}); it is saved as ${path}.invalid when the book is next written`);
      return { book, warnings };
    }
    const entries = (data as { peers: unknown[] }).peers;
    let dropped = 0;
    for (const raw of entries.slice(0, MAX_PEERS)) {
      const entry = checkEntry(raw);
      if (entry) book.peers.set(entry.peer, entry);
      else dropped++;
    }
    dropped += Math.max(0, entries.length - MAX_PEERS);
    if (dropped > 0) warnings.push(`${path}: dropped ${dropped} invalid or surplus entr${dropped === 1 ? "y" : "ies"}`);
    return { book, warnings };
  }

  entries(): BookEntry[] {
    return [...this.peers.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  get(peer: string): BookEntry | undefined {
    return this.peers.get(peer);
  }

  /** The remembered peers as dial targets (looked up through peer routing when their addresses fail). */
  targets(except: (peer: string) => boolean = () => false): DialTarget[] {
    return this.entries()
      .filter((e) => !except(e.peer))
      .map((e) => ({ text: e.peer, peerId: peerIdFromString(e.peer), addrs: e.addrs.map((a) => multiaddr(a)), remembered: true }));
  }

  /**
   * The remembered relays, one multiaddr each (its last working address; every stored address
   * ends in /p2p/ID, see `dialableFor`): where a sync started without --relay holds its
   * reservations, as it did when it learned them.
   */
  relayAddrs(): string[] {
    return this.entries()
      .filter((e) => e.role === "relay" && e.addrs.length > 0)
      .map((e) => e.addrs[0]!);
  }

  /** Records a peer seen now at these addresses; returns whether anything changed. */
  remember(peer: string, addrs: string[], role: PeerRole, now = Date.now()): boolean {
    const old = this.peers.get(peer);
    const ours = addrs.flatMap((a) => dialableFor(peer, a) ?? []);
    const kept = [...new Set([...ours, ...(old?.addrs ?? [])])].filter((a) => a.length <= MAX_ADDR_CHARS).slice(0, MAX_ADDRS);
    const entry: BookEntry = { peer, role: old?.role === "relay" ? "relay" : role, addrs: kept, lastSeen: now };
    const changed = !old || old.role !== entry.role || old.addrs.join() !== kept.join();
    this.peers.delete(peer);
    this.peers.set(peer, entry);
    while (this.peers.size > MAX_PEERS) {
      const oldest = this.entries().at(-1)!;
      this.peers.delete(oldest.peer);
    }
    return changed || !old || now - old.lastSeen > 60_000;
  }

  /** Writes the book atomically (mode 0600); a file that did not parse is saved aside first. */
  save(): void {
    if (this.invalidFile && existsSync(this.path)) copyFileSync(this.path, `${this.path}.invalid`);
    this.invalidFile = false;
    const text = `${JSON.stringify({ version: VERSION, peers: this.entries() }, null, 1)}\n`;
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

/**
 * `addr` as an address that dials `peer` (ending in /p2p/PEER), or undefined when it names another
 * peer. A relayed connection's remote address ends at /p2p-circuit: dialled as it is, it names the
 * relay, and libp2p refuses a dial whose addresses name different peers.
 */
export function dialableFor(peer: string, addr: string): string | undefined {
  const last = addr.lastIndexOf("/p2p/");
  if (last < 0 || addr.endsWith("/p2p-circuit")) return `${addr}/p2p/${peer}`;
  return addr.slice(last + 5) === peer ? addr : undefined;
}

function checkEntry(raw: unknown): BookEntry | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const { peer, role, addrs, lastSeen } = raw as Record<string, unknown>;
  if (typeof peer !== "string" || peer.length > 100 || (role !== "peer" && role !== "relay")) return undefined;
  if (typeof lastSeen !== "number" || !Number.isFinite(lastSeen) || !Array.isArray(addrs) || addrs.length > MAX_ADDRS) return undefined;
  try {
    if (peerIdFromString(peer).type !== "Ed25519") return undefined;
    for (const a of addrs) {
      if (typeof a !== "string" || a.length > MAX_ADDR_CHARS) return undefined;
      multiaddr(a);
    }
  } catch {
    return undefined;
  }
  // Books written before addresses were checked for their peer may hold relayed ones without it.
  const dialable = (addrs as string[]).flatMap((a) => dialableFor(peer, a) ?? []).filter((a) => a.length <= MAX_ADDR_CHARS);
  return { peer, role, addrs: dialable, lastSeen };
}

/** Writes of the book wait this long so a burst of connections costs one write. */
const SAVE_DELAY_MS = 1000;

/**
 * Keeps an address book current from a running host: a teammate is remembered once it
 * authenticated (`member`), a relay once we dialled it and it proved to serve relaying, each with
 * the addresses it announced (identify) and the one we reached it on.
 */
export class PeerMemory {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    const { peerId, protocols } = evt.detail;
    const id = peerId.toString();
    const dialled = this.host.getConnections(peerId).some((c) => c.direction === "outbound");
    if (protocols.includes(RELAY_HOP_PROTOCOL) && dialled) void this.note(peerId, "relay");
    else if (this.book.get(id)) void this.note(peerId, this.book.get(id)!.role);
  };

  constructor(
    private readonly host: Host,
    readonly book: AddressBook,
    private readonly onError: (message: string) => void,
  ) {
    host.addEventListener("peer:identify", this.onIdentify);
  }

  /** A peer authenticated with a valid capability: remember it. */
  member(peer: string): void {
    void this.note(peerIdFromString(peer), "peer");
  }

  /** We hold a reservation on this relay: remember it as one (its identify may not have come yet). */
  relay(peer: string): void {
    void this.note(peerIdFromString(peer), "relay");
  }

  /** Notes still reading the peer store: `stop` waits for them, or a sync stopped just after meeting a relay forgot it. */
  private readonly pending = new Set<Promise<void>>();

  private note(peerId: PeerId, role: PeerRole): Promise<void> {
    const noting = this.noteNow(peerId, role).finally(() => this.pending.delete(noting));
    this.pending.add(noting);
    return noting;
  }

  private async noteNow(peerId: PeerId, role: PeerRole): Promise<void> {
    const addrs: string[] = [];
    // The address we reached it on works; an inbound connection's comes from a random port.
    for (const c of this.host.getConnections(peerId)) if (c.direction === "outbound") addrs.push(c.remoteAddr.toString());
    try {
      for (const a of (await this.host.peerStore.get(peerId)).addresses) addrs.push(a.multiaddr.toString());
    } catch {}
    if (addrs.length === 0 && this.book.get(peerId.toString())) return;
    if (this.book.remember(peerId.toString(), addrs, role)) this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, SAVE_DELAY_MS);
    this.timer.unref?.();
  }

  /** Writes pending changes now. */
  flush(): void {
    try {
      this.book.save();
    } catch (err) {
      this.onError(`could not save the address book ${this.book.path}: ${(err as Error).message}`);
    }
  }

  /** Stops listening; what was noted, including notes still under way, is written. */
  async stop(): Promise<void> {
    this.host.removeEventListener("peer:identify", this.onIdentify);
    await Promise.all(this.pending);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flush();
    }
  }
}

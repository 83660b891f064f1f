/**
 * Loads the QUIC transport (@chainsafe/libp2p-quic, a native napi module) in a way that works both
 * under `bun run` and inside a `bun build --compile` executable.
 *
 * Inside the executable, napi-rs's loader looks for the `.node` file next to the bundle (inside
 * Bun's virtual `/$bunfs`), where it is not. We embed the addon as a file asset and point the
 * loader at it through NAPI_RS_NATIVE_LIBRARY_PATH — only for the duration of the import, because
 * every napi-rs package honours that variable and would otherwise load the QUIC addon instead of
 * its own. If QUIC cannot load at all, callers fall back to TCP (see `loadQuic`). Once loaded, its
 * native stream reads are widened from 4 KiB to QUIC_READ_BYTES (see `widenReads`).
 */
import { createRequire } from "node:module";
import type { Libp2pOptions } from "libp2p";
import { PAUSES_SENDER } from "./stream-io.ts";

type Transport = NonNullable<Libp2pOptions["transports"]>[number];

/** Options of the QUIC transport we set (see @chainsafe/libp2p-quic's QuicOptions). */
export interface QuicSettings {
  /** Milliseconds without a packet before a connection (or a dial) is given up. */
  maxIdleTimeout?: number;
  /** Milliseconds between keep-alive packets; must be well below maxIdleTimeout. */
  keepAliveInterval?: number;
}

export type QuicLoad = { ok: true; quic: (settings?: QuicSettings) => Transport } | { ok: false; reason: string };

let cached: Promise<QuicLoad> | undefined;

/** Loads QUIC once per process. Never throws: a failure is reported as `{ ok: false, reason }`. */
export function loadQuic(): Promise<QuicLoad> {
  cached ??= load();
  return cached;
}

async function load(): Promise<QuicLoad> {
  const compiled = import.meta.url.includes("$bunfs");
  const previous = process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  try {
    if (compiled) {
      const addon = await import("@chainsafe/libp2p-quic-linux-x64-gnu/libp2p-quic.linux-x64-gnu.node", {
        with: { type: "file" },
      });
      process.env.NAPI_RS_NATIVE_LIBRARY_PATH = addon.default;
    }
    const mod = await import("@chainsafe/libp2p-quic");
    widenReads(compiled ? process.env.NAPI_RS_NATIVE_LIBRARY_PATH! : "@chainsafe/libp2p-quic-linux-x64-gnu");
    await holdReadsWhilePaused();
    return { ok: true, quic: (settings = {}) => mod.quic(settings) as unknown as Transport };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `QUIC transport unavailable (${message}); using TCP only` };
  } finally {
    if (compiled) {
      if (previous === undefined) delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
      else process.env.NAPI_RS_NATIVE_LIBRARY_PATH = previous;
    }
  }
}

/**
 * Bytes asked of the native QUIC stream per read. The package asks for 4 KiB, so receiving 64 MiB
 * takes 16,384 native calls, each settling a promise and dispatching a chunk through the stream
 * layers; with 64 KiB reads a bulk transfer runs about 1.5× as fast, with 256 KiB another ~8%
 * (bench: sync W2 over QUIC; 1 MiB gained nothing more).
 */
export const QUIC_READ_BYTES = 256 * 1024;

/** Whether `widenReads` took effect (false when the addon is not the one it knows). */
export let quicReadsWidened = false;

type NativeStreamClass = { prototype: { read(size: number): Promise<unknown>; widened?: true } };

/**
 * Makes every read of the addon's native stream class ask for at least QUIC_READ_BYTES (a read
 * returns what has arrived, up to that size; it never waits to fill it). `addon` is the specifier
 * the package itself loaded (the module cache hands back the same class). A missing or different
 * addon is left as it is: QUIC then works as shipped, only slower.
 */
function widenReads(addon: string): void {
  let Stream: NativeStreamClass | undefined;
  try {
    Stream = (createRequire(import.meta.url)(addon) as { Stream?: NativeStreamClass }).Stream;
  } catch {
    return;
  }
  const proto = Stream?.prototype;
  if (!proto || typeof proto.read !== "function") return;
  if (proto.widened) {
    quicReadsWidened = true;
    return;
  }
  const read = proto.read;
  proto.read = function (this: GatedNative, size: number) {
    // The JS stream whose read loop is starting (see holdReadsWhilePaused) owns this native stream.
    if (starting) this[OWNER] = starting;
    const owner = this[OWNER];
    if (owner?.readStatus === "paused") return resumed(owner).then(() => read.call(this, Math.max(size, QUIC_READ_BYTES)));
    return read.call(this, Math.max(size, QUIC_READ_BYTES));
  };
  proto.widened = true;
  quicReadsWidened = true;
}

/** The package's JS stream, as far as holdReadsWhilePaused uses it. */
type JsStream = {
  readStatus: string;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
  [RESUMED]?: { promise: Promise<void>; resolve: () => void };
};
type GatedNative = { [OWNER]?: JsStream };
type JsStreamClass = { prototype: { readFromStream(): Promise<void>; sendPause(): void; sendResume(): void; [PAUSES_SENDER]?: boolean } };

const OWNER = Symbol("tribles.quicOwner");
const RESUMED = Symbol("tribles.quicResumed");
/** The JS stream whose `readFromStream` is running its synchronous start (it calls the native read at once). */
let starting: JsStream | undefined;

/** Settles when `stream` is resumed or closes. */
function resumed(stream: JsStream): Promise<void> {
  if (!stream[RESUMED]) {
    const gate = Promise.withResolvers<void>();
    stream[RESUMED] = gate;
    stream.addEventListener("close", () => gate.resolve(), { once: true });
  }
  return stream[RESUMED].promise;
}

/**
 * Makes a paused QUIC stream stop reading its native stream, so QUIC's own flow control holds the
 * sender back. The package's `pause()` does nothing (its comment says QUIC flow control handles
 * it, but its read loop reads on regardless, so the bytes pile up in the JS stream, which aborts
 * past 4 MiB). The native read of a paused stream now waits for `resume()`: at most one read
 * (QUIC_READ_BYTES) arrives after the pause. The stream class is not exported, so it is loaded
 * from beside the package's entry; where that fails (the compiled executable bundles the
 * package), streams are not marked PAUSES_SENDER and readers do not pause them.
 */
async function holdReadsWhilePaused(): Promise<void> {
  let QuicStream: JsStreamClass | undefined;
  try {
    const entry = import.meta.resolve("@chainsafe/libp2p-quic");
    QuicStream = ((await import(new URL("./stream.js", entry).href)) as { QuicStream?: JsStreamClass }).QuicStream;
  } catch {
    return;
  }
  const proto = QuicStream?.prototype;
  if (!proto || typeof proto.readFromStream !== "function" || !quicReadsWidened || proto[PAUSES_SENDER]) return;
  const readFromStream = proto.readFromStream;
  proto.readFromStream = function (this: JsStream) {
    starting = this;
    try {
      return readFromStream.call(this);
    } finally {
      starting = undefined;
    }
  };
  const sendResume = proto.sendResume;
  proto.sendResume = function (this: JsStream) {
    const gate = this[RESUMED];
    this[RESUMED] = undefined;
    gate?.resolve();
    return sendResume.call(this);
  };
  proto[PAUSES_SENDER] = true;
}

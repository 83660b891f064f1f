/**
 * Loads the QUIC transport (@chainsafe/libp2p-quic, a native napi module) in a way that works both
 * under `bun run` and inside a `bun build --compile` executable.
 *
 * Inside the executable, napi-rs's loader looks for the `.node` file next to the bundle (inside
 * Bun's virtual `/$bunfs`), where it is not. We embed the addon as a file asset and point the
 * loader at it through NAPI_RS_NATIVE_LIBRARY_PATH — only for the duration of the import, because
 * every napi-rs package honours that variable and would otherwise load the QUIC addon instead of
 * its own. If QUIC cannot load at all, callers fall back to TCP (see `loadQuic`).
 */
import type { Libp2pOptions } from "libp2p";

type Transport = NonNullable<Libp2pOptions["transports"]>[number];

export type QuicLoad = { ok: true; quic: () => Transport } | { ok: false; reason: string };

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
    return { ok: true, quic: () => mod.quic() as unknown as Transport };
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

/**
 * TCP whose outgoing IPv4 dials all leave from one local port, so that hole punching can work.
 *
 * Behind a NAT, a peer can only be reached directly through a mapping its own outgoing packets
 * opened. A NAT that keeps the mapping of a local port for every destination (Linux MASQUERADE
 * keeps even the port number when it can) maps every dial from one port to the same public
 * address: the relay sees it (identify's observed address), the node announces it, and a DCUtR
 * dial from that port to a peer dialling back at once meets the peer's SYN (TCP simultaneous
 * open). @libp2p/tcp dials from a fresh ephemeral port each time, whose mapping nobody was told.
 *
 * Why not the listening port itself: sharing it with a listener needs SO_REUSEPORT on the dialling
 * socket, which Bun's `net.connect` does not set (it sets SO_REUSEADDR for `localPort`, enough for
 * several dialling sockets to share a port). QUIC cannot be fixed here: @chainsafe/libp2p-quic
 * dials from a client-only endpoint that refuses incoming handshakes (see README, Limits).
 *
 * A dial whose port is unusable (taken by another program, or the same peer address dialled
 * again while the old connection lingers in TIME_WAIT) falls back to an ephemeral port.
 */
import net from "node:net";
import type { Transport } from "@libp2p/interface";
import type { tcp } from "@libp2p/tcp";
import type { Multiaddr } from "@multiformats/multiaddr";
import { netLogger } from "./log.ts";
import { tcpTransport } from "./tcp-transport.ts";

const log = netLogger("tcp-dial-port");

type Components = Parameters<ReturnType<typeof tcp>>[0];

/** Errors of binding or connecting from the dial port that a fresh ephemeral port avoids. */
const PORT_UNUSABLE = new Set(["EADDRINUSE", "EADDRNOTAVAIL"]);

/** A free TCP port on every IPv4 interface, as the system hands one out. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen({ host: "0.0.0.0", port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Our TCP transport (tcp-transport.ts) with every IPv4 dial bound to one local port (see above). */
export function tcpFromOnePort(): (components: Components) => Transport {
  return (components) => {
    const transport = tcpTransport()(components);
    let port: Promise<number> | undefined;
    const dial = transport.dial.bind(transport);
    transport.dial = async (ma: Multiaddr, options) => {
      if (!ma.getComponents().some((c) => c.name === "ip4")) return dial(ma, options);
      port ??= freePort();
      const localPort = await port;
      try {
        return await dial(ma, { ...options, localPort } as typeof options);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!code || !PORT_UNUSABLE.has(code)) throw err;
        log("dial to %s from port %d: %s; from an ephemeral port instead", ma.toString(), localPort, code);
        if (code === "EADDRINUSE") port = undefined; // another program has it: pick another next time
        return dial(ma, options);
      }
    };
    return transport;
  };
}

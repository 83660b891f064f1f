/**
 * libp2p's TCP transport, with one fix. Its dial hands the dial's AbortSignal to `net.connect`
 * (it spreads the dial options into the socket options), so an abort makes the socket destroy
 * itself with an AbortError one tick later; by then the transport's own abort handler has removed
 * the socket's only 'error' listener, and the error is uncaught: a process with a dial aborted
 * mid-connect (a stop, a dial deadline, a dial raced by another address) reported an unhandled
 * error or exited 1. Here the socket never sees the signal: the transport still watches it and
 * destroys the socket itself, without an error event (test/net/tcp-transport.test.ts).
 */
import type { Multiaddr } from "@multiformats/multiaddr";
import { tcp, type TCPOptions } from "@libp2p/tcp";

/** The transport's internal connect step (not part of its public type). */
interface ConnectingTransport {
  _connect(ma: Multiaddr, options: { signal: AbortSignal } & Record<string, unknown>): Promise<unknown>;
}

/** Options whose `signal` the transport reads but a spread (the socket options) does not copy. */
function hideSignal<T extends { signal: AbortSignal }>(options: T): T {
  const { signal, ...rest } = options;
  Object.defineProperty(rest, "signal", { value: signal, enumerable: false });
  return rest as T;
}

/** `tcp(init)` from @libp2p/tcp whose dials never hand their AbortSignal to the socket (see above). */
export function tcpTransport(init: TCPOptions = {}): ReturnType<typeof tcp> {
  const factory = tcp(init);
  return (components) => {
    const transport = factory(components) as ReturnType<ReturnType<typeof tcp>> & ConnectingTransport;
    const connect = transport._connect.bind(transport);
    transport._connect = (ma, options) => connect(ma, hideSignal(options));
    return transport;
  };
}

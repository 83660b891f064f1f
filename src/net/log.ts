/**
 * Debug logging for the net layer, one logger per component, with libp2p's logger (itself the
 * `debug` convention): silent unless the DEBUG environment variable names it, e.g.
 * `DEBUG=tribles:net:*` for all of ours, `DEBUG=tribles:net:fetch,libp2p:*` with libp2p's own.
 * Errors we deliberately swallow (the caller goes on without the result) are logged here rather
 * than dropped silently.
 */
import { type Logger, logger } from "@libp2p/logger";

export type { Logger };

/** The logger of one net component: `tribles:net:<component>`. */
export function netLogger(component: string): Logger {
  return logger(`tribles:net:${component}`);
}

/** A rejection handler that logs what it swallows: `promise.catch(logged(log, "closing a client"))`. */
export function logged(log: Logger, what: string): (err: unknown) => void {
  return (err) => log("%s failed: %s", what, describe(err));
}

/** An error's first line, for a log line. */
export function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

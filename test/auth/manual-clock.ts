/** A policy clock the test moves by hand: timers fire when it passes their instant, never on their own. */
import type { PolicyClock } from "../../src/auth/policy.ts";

export function manualClock(start: bigint) {
  let now = start;
  const timers: { at: bigint; fn: () => void }[] = [];
  const clock: PolicyClock = {
    nowNs: () => now,
    at(at, fn) {
      const timer = { at, fn };
      timers.push(timer);
      return () => timers.splice(timers.indexOf(timer), 1);
    },
  };
  const advance = (ns: bigint) => {
    now += ns;
    for (const t of timers.filter((t) => t.at <= now)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

/** CapabilityWait: a head waits for its publisher's capability on events, not by polling. */
import { expect, test } from "bun:test";
import { CapabilityWait, type Timers } from "../../src/net/capability-wait.ts";

/** Timers that fire only when the test says so. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 1;
  const timers = {
    setTimeout: (fn: () => void) => {
      pending.set(next, fn);
      return next++ as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout: (handle: ReturnType<typeof setTimeout>) => {
      pending.delete(handle as unknown as number);
    },
  } satisfies Timers;
  return { timers, fireAll: () => {
      for (const fn of [...pending.values()]) fn();
    }, pending };
}

test("a check that passes already resolves true at once, with no timer", async () => {
  const { timers, pending } = manualTimers();
  expect(await new CapabilityWait().wait(() => true, 5000, timers)).toBe(true);
  expect(pending.size).toBe(0);
});

test("a waiting check resolves true on the notify after it starts to pass, and its timer is cleared", async () => {
  const { timers, pending } = manualTimers();
  const wait = new CapabilityWait();
  let admitted = false;
  const result = wait.wait(() => admitted, 5000, timers);
  wait.notify(); // still refused: keeps waiting
  expect(wait.pending).toBe(1);
  admitted = true;
  wait.notify();
  expect(await result).toBe(true);
  expect(wait.pending).toBe(0);
  expect(pending.size).toBe(0);
});

test("a check that never passes resolves false when its time is up", async () => {
  const { timers, fireAll } = manualTimers();
  const wait = new CapabilityWait();
  const result = wait.wait(() => false, 5000, timers);
  fireAll();
  expect(await result).toBe(false);
  expect(wait.pending).toBe(0);
});

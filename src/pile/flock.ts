/** Whole-file advisory locks (flock) from libc through bun:ffi; the reference locks the same way. */
import { dlopen, FFIType, read } from "bun:ffi";

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_UN = 8;
const LOCK_NB = 4;
const EINTR = 4;
const EWOULDBLOCK = 11;

const libc = dlopen("libc.so.6", {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

function flock(fd: number, op: number, what: string): void {
  for (;;) {
    if (libc.symbols.flock(fd, op) === 0) return;
    const errno = read.i32(libc.symbols.__errno_location()!, 0);
    if (errno !== EINTR) throw new Error(`flock ${what} failed (errno ${errno})`);
  }
}

/** Blocks until the shared lock is held (many appenders at once). */
export const lockShared = (fd: number) => flock(fd, LOCK_SH, "shared");
/** Blocks until the exclusive lock is held (branch compare-and-swap, restore). */
export const lockExclusive = (fd: number) => flock(fd, LOCK_EX, "exclusive");
export const unlock = (fd: number) => flock(fd, LOCK_UN, "unlock");

/** Takes the exclusive lock if no one holds it; false (at once) if someone does. */
export function tryLockExclusive(fd: number): boolean {
  for (;;) {
    if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = read.i32(libc.symbols.__errno_location()!, 0);
    if (errno === EWOULDBLOCK) return false;
    if (errno !== EINTR) throw new Error(`flock exclusive failed (errno ${errno})`);
  }
}

/** Runs `fn` holding the lock, releasing it however `fn` ends. */
export function withLock<T>(fd: number, exclusive: boolean, fn: () => T): T {
  if (exclusive) lockExclusive(fd);
  else lockShared(fd);
  try {
    return fn();
  } finally {
    unlock(fd);
  }
}

/**
 * Gives back the resident pages of part of a private file mapping (madvise MADV_DONTNEED), so
 * bytes that were read once through a pile's mapping stop counting in the process's RSS. The
 * mapping is never written, so the pages hold exactly the file's bytes and a later read faults
 * them in again from the page cache: nothing a view sees changes.
 *
 * Linux only (through bun:ffi and the C library); elsewhere, or if the library cannot be loaded,
 * `releasePages` does nothing and says so once through `releaseUnavailable`.
 */
const MADV_DONTNEED = 4;
const PAGE = 4096;
/**
 * The largest folio the kernel maps a file's bytes with (a PMD: 2 MiB with 4 KiB pages). A read
 * of one byte can make a whole folio resident (large folios in the page cache, file THP).
 */
export const FOLIO = 2 * 1024 * 1024;

type Madvise = (addr: number, length: number, advice: number) => number;
let madvise: Madvise | null | undefined;
let ptrOf: ((view: Uint8Array, byteOffset?: number) => number) | undefined;
/** Why pages cannot be released here (undefined while they can, or before the first attempt). */
export let releaseUnavailable: string | undefined;

function load(): Madvise | null {
  if (process.platform !== "linux") {
    releaseUnavailable = `not on Linux (${process.platform})`;
    return null;
  }
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const lib = ffi.dlopen("libc.so.6", { madvise: { args: [ffi.FFIType.ptr, ffi.FFIType.u64, ffi.FFIType.i32], returns: ffi.FFIType.i32 } });
    ptrOf = (view, byteOffset) => ffi.ptr(view, byteOffset) as unknown as number;
    return lib.symbols.madvise as unknown as Madvise;
  } catch (err) {
    releaseUnavailable = `madvise not loadable: ${(err as Error).message}`;
    return null;
  }
}

/** Releases the whole pages of `map` (a mapping from Bun.mmap) within byte range [from, to). */
export function releasePages(map: Uint8Array, from: number, to: number): void {
  if (madvise === undefined) madvise = load();
  if (!madvise || !ptrOf) return;
  // The mapping starts on a page boundary; release only pages wholly inside the range.
  const start = Math.ceil(Math.max(0, from) / PAGE) * PAGE;
  const end = Math.floor(Math.min(map.length, to) / PAGE) * PAGE;
  if (end <= start) return;
  madvise(ptrOf(map, start), end - start, MADV_DONTNEED);
}

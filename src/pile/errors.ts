/** Errors a pile reports; each names the file and, where it applies, the byte offset. */

/** The file holds a bad record that is not a torn tail: we refuse to guess and change nothing. */
export class PileCorruptError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${path}: corrupt record at offset ${offset}: ${reason} (file left untouched; run \`tribles pile diagnose ${path}\`)`);
    this.name = "PileCorruptError";
  }
}

/** A blob's payload does not hash to the hash in its header. */
export class PileIntegrityError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
  ) {
    super(`${path}: blob record at offset ${offset} fails its BLAKE3 check (stored bytes are damaged)`);
    this.name = "PileIntegrityError";
  }
}

/** Errors a pile reports; each names the file and, where it applies, the byte offset. */

/** Any failure of a pile operation that is about the file (not a programming error). */
export class PileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "PileError";
  }
}

/** The file holds a bad record that is not a torn tail: we refuse to guess and change nothing. */
export class PileCorruptError extends PileError {
  constructor(
    path: string,
    readonly offset: number,
    readonly reason: string,
    /** What the user can do (the advice `diagnose` gives); by default, run diagnose. */
    advice?: string,
  ) {
    super(path, `corrupt record at offset ${offset}: ${reason} (file left untouched; ${advice ? `${advice}; ` : ""}run \`tribles pile diagnose ${path}\` for a full check)`);
    this.name = "PileCorruptError";
  }
}

/** A blob's payload does not hash to the hash in its header. */
export class PileIntegrityError extends PileError {
  constructor(
    path: string,
    readonly offset: number,
  ) {
    super(path, `blob record at offset ${offset} fails its BLAKE3 check (stored bytes are damaged)`);
    this.name = "PileIntegrityError";
  }
}

/** Errors a pile reports; each names the file and, where it applies, the byte offset. */

/** Any failure of a pile operation that is about the file (not a programming error). */
export class PileError extends Error {
  /** A failure about the file at `path`; the message is prefixed with the path. */
  constructor(
    /** The pile file's path. */
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "PileError";
  }
}

/** The file holds a bad record that is not a torn tail: we refuse to guess and change nothing. */
export class PileCorruptError extends PileError {
  /** A bad record at `offset` of the file at `path`, for `reason`. */
  constructor(
    path: string,
    /** Byte offset of the bad record. */
    readonly offset: number,
    /** What is wrong with the record. */
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
  /** The blob record at `offset` of the file at `path` fails its hash check. */
  constructor(
    path: string,
    /** Byte offset of the blob record. */
    readonly offset: number,
  ) {
    super(path, `blob record at offset ${offset} fails its BLAKE3 check (stored bytes are damaged)`);
    this.name = "PileIntegrityError";
  }
}

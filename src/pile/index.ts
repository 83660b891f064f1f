/**
 * `tribles/pile`: the pile, one append-only file of content-addressed blobs and branch heads. A
 * {@link Pile} implements the core `Store` interface; its errors say whether a file is corrupt
 * ({@link PileCorruptError}) or a blob failed its hash ({@link PileIntegrityError}).
 *
 * @module tribles/pile
 */

export { PileCorruptError, PileError, PileIntegrityError } from "./errors.ts";
export { Pile, type PileOpenOptions } from "./pile.ts";

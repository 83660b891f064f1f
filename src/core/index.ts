/**
 * `tribles/core`: facts and stores with no I/O. Tribles (entity, attribute, value) collected in a
 * {@link TribleSet}, the ids and value schemas they are built from, BLAKE3 hashing, ed25519 keys,
 * the store interfaces every store implements ({@link Store}) and the in-memory {@link MemoryStore}.
 *
 * @module tribles/core
 */

export { ArchiveError, decodeSimpleArchive, encodeSimpleArchive } from "./archive.ts";
export { hash } from "./blake3.ts";
export { bytesEqual, fromHex, toHex } from "./bytes.ts";
export { SigningKey, verify } from "./ed25519.ts";
export { genId, type Id, idFromHex, idToHex, NIL_ID, ufoId } from "./id.ts";
export { decodeLongString, encodeLongString } from "./longstring.ts";
export { MemoryStore } from "./memory-store.ts";
export { booleanFromValue, booleanValue, genIdFromValue, genIdValue, shortStringFromValue, shortStringValue } from "./schemas.ts";
export type { BlobReader, BlobStore, BlobStorePut, BranchId, CasResult, Hash, Store } from "./store.ts";
export { attributePart, entityPart, TRIBLE_LEN, trible, VALUE_LEN, valuePart } from "./trible.ts";
export { type TriblePattern, TribleSet } from "./tribleset.ts";

/**
 * Attribute ids of the reference's `metadata` namespace and its kind tags (FORMATS §7.6). The
 * encoding each attribute's values use is noted beside it. Repo, capability and tracking attribute
 * ids live with the layers that use them.
 */
import { fromHex } from "./bytes.ts";

/** Handle<LongString>. */
export const METADATA_DESCRIPTION = fromHex("AE94660A55D2EE3C428D2BB299E02EC3");
/** GenId of an inline (value) encoding. */
export const METADATA_VALUE_ENCODING = fromHex("213F89E3F49628A105B3830BD3A6612C");
/** GenId of a blob encoding. */
export const METADATA_BLOB_ENCODING = fromHex("43C134652906547383054B1E31E23DF4");
/** GenId. */
export const METADATA_ARRAY_ITEM_SCHEMA = fromHex("56C43BEE48BE99521886D99BE9026A3B");
/** GenId of a hash protocol (e.g. BLAKE3). */
export const METADATA_HASH_SCHEMA = fromHex("51C08CFABB2C848CE0B4A799F0EFE5EA");
/** Handle<WasmCode>. */
export const METADATA_VALUE_FORMATTER = fromHex("1A3D520FEDA9E1A4051EBE96E43ABAC7");
/** Handle<LongString>: branch names and attribute names. */
export const METADATA_NAME = fromHex("7FB28C0B48E1924687857310EE230414");
/** Handle<LongString>. */
export const METADATA_IRI = fromHex("325F05DB88184B4540AAEEFAE1E9667F");
/** GenId. */
export const METADATA_ATTRIBUTE = fromHex("F10DE6D8E60E0E86013F1B867173A85C");
/** Handle<LongString>. */
export const METADATA_SOURCE = fromHex("A56350FD00EC220B4567FE15A5CD68B8");
/** Handle<LongString>. */
export const METADATA_SOURCE_MODULE = fromHex("BCB94C7439215641A3E9760CE3F4F432");
/** ShortString. */
export const METADATA_JSON_KIND = fromHex("A7AFC8C0FAD017CE7EC19587AF682CFF");
/** GenId of a tag (KIND_* below, or a permission). */
export const METADATA_TAG = fromHex("91C50E9FBB1F73E892EBD5FFDE46C251");
/** NsTAIInterval. */
export const METADATA_CREATED_AT = fromHex("9B1E79DFD065F643954141593CD8B9E0");
/** NsTAIInterval. */
export const METADATA_UPDATED_AT = fromHex("93B7372E3443063392CD801B03A8D390");
/** NsTAIInterval. */
export const METADATA_STARTED_AT = fromHex("06973030ACA83A7B2B4FC8BEBB31F77A");
/** NsTAIInterval. */
export const METADATA_FINISHED_AT = fromHex("9B06AA4060EF9928A923FC7E6A6B6438");
/** NsTAIInterval; capability expiry checks its upper bound. */
export const METADATA_EXPIRES_AT = fromHex("89FEC3B560336BA88B10759DECD3155F");

// Tags: GenId values of METADATA_TAG.
export const KIND_MULTI = fromHex("C36D9C16B34729D855BD6C36A624E1BF");
export const KIND_INLINE_ENCODING = fromHex("9A169BF2383E7B1A3E019808DFE3C2EB");
export const KIND_BLOB_ENCODING = fromHex("CE488DB0C494C7FDBF3DF1731AED68A6");
export const KIND_ATTRIBUTE_USAGE = fromHex("45759727A79C28D657EC06D5C6013649");
export const KIND_PROTOCOL = fromHex("A04AD649FA28DC5904385532E9C8EF74");
export const KIND_TAG = fromHex("452584B4C1CAE0B77F44408E6F194A31");

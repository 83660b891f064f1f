/** Capability attribute ids and permission tags (FORMATS §7.6). */
import { fromHex } from "../core/bytes.ts";

export const CAP_SUBJECT = fromHex("1A8A6A9D8CA1DA67FACAB373DE21233B");
export const CAP_ISSUER = fromHex("2E9CD97ED0698FAF18EAEB74B5893685");
export const CAP_SCOPE_ROOT = fromHex("1A7DD2026BEFBE55A354CE10839CFDD6");
export const CAP_PARENT = fromHex("E825B3A8D387B4DAE1720B0EDCBFAA9E");
export const CAP_EMBEDDED_PARENT_SIG = fromHex("008F7784A309CA9DEF007E4F63F87121");
export const SCOPE_BRANCH = fromHex("46246789D627C1B0F81B21418E179DFD");
export const SIG_SIGNS = fromHex("230E175A083E29155C860B38BD44F2F3");
export const REV_TARGET = fromHex("E146824999D1DA7F1F0E54025F52EE13");

export const PERM_READ = fromHex("A75EED8224A553DD8002576E2E8A6823");
export const PERM_WRITE = fromHex("C56AAF4191DD4FBB9F197B79435B881D");
export const PERM_ADMIN = fromHex("EC68A0CBF9EF421F59A0A69ED80FD79F");

/** What a capability grants: read, write (includes read) or admin (includes both, and inviting). */
export type Permission = "read" | "write" | "admin";
export const PERMISSION_TAGS: Record<Permission, Uint8Array> = { read: PERM_READ, write: PERM_WRITE, admin: PERM_ADMIN };

/** Maximum delegation depth accepted (the reference's MAX_CHAIN_DEPTH). */
export const MAX_CHAIN_DEPTH = 32;

/**
 * pile-sync, as one import: the wire format (wire.ts) and the server (server/). Kept so existing
 * imports keep working; new code imports wire.ts or server/ directly.
 */
export * from "./wire.ts";
export { type AccessPolicy, type AuthDecision, type AuthRequest, type Denied, openPolicy, type Scope, type ServerEvents, type ServerOptions } from "./server/policy.ts";
export { SyncServer } from "./server/server.ts";
export { childrenMetered, childrenOf, missingClosure, postOrder } from "./server/walk.ts";


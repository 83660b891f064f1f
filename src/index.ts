/**
 * tribles as a library: a peer-to-peer knowledge store for Bun programs.
 *
 * - Facts are tribles (entity, attribute, value) collected in a {@link TribleSet}.
 * - A store keeps content-addressed blobs and branch heads: {@link Pile} (an append-only file),
 *   {@link MemoryStore}, or {@link Peer} (any store, synced). All implement {@link Store}, so each
 *   can stand in for another.
 * - A {@link Repository} over a store commits facts to named branches (signed with a
 *   {@link SigningKey}) and reads them back.
 * - {@link TeamSync} syncs a store with a team (team root + capability, see {@link createTeam});
 *   {@link pullBranch} pulls one branch once; {@link SyncNode} is the node underneath.
 *
 * ```ts
 * import { Pile, Repository, TeamSync, TribleSet } from "tribles";
 * const pile = Pile.open("./self.pile");
 * const sync = await TeamSync.start({ store: pile, key, teamRoot, capability, peers });
 * const repo = new Repository(sync.store, key);
 * repo.commit("notes", facts, "a note");
 * ```
 *
 * Runs on Bun (it imports TypeScript sources and Bun's APIs).
 *
 * @packageDocumentation
 */

// ── Facts ──────────────────────────────────────────────────────────────────────────────────────
export { TribleSet, type TriblePattern } from "./core/tribleset.ts";
export { entityPart, attributePart, valuePart, trible, TRIBLE_LEN, VALUE_LEN } from "./core/trible.ts";
export { type Id, genId, ufoId, idFromHex, idToHex, NIL_ID } from "./core/id.ts";
export { shortStringValue, shortStringFromValue, genIdValue, genIdFromValue, booleanValue, booleanFromValue } from "./core/schemas.ts";
export { encodeLongString, decodeLongString } from "./core/longstring.ts";
export { encodeSimpleArchive, decodeSimpleArchive, ArchiveError } from "./core/archive.ts";
export { hash } from "./core/blake3.ts";
export { toHex, fromHex, bytesEqual } from "./core/bytes.ts";
export { SigningKey, verify } from "./core/ed25519.ts";

// ── Stores ─────────────────────────────────────────────────────────────────────────────────────
export type { BlobReader, BlobStore, BlobStorePut, BranchId, BranchStore, CasResult, Hash, Store } from "./core/store.ts";
export { MemoryStore } from "./core/memory-store.ts";
export { Pile, type PileOpenOptions } from "./pile/pile.ts";

// ── Repository ─────────────────────────────────────────────────────────────────────────────────
export { Repository, type RepositoryOptions, type BranchInfo } from "./repo/repository.ts";
export { Workspace, type MergeKind } from "./repo/workspace.ts";
export { RepoError, type RepoErrorCode } from "./repo/errors.ts";
export { loadKey, type KeyLookup } from "./repo/keyfile.ts";
export { adoptTrackedBranch, mergeRemoteHead } from "./repo/remote-merge.ts";
export { RemoteMergePolicy, type MergeOutcome, type MergePolicyOptions } from "./repo/merge-policy.ts";
export type { TrackingResult } from "./repo/tracking.ts";

// ── Teams ──────────────────────────────────────────────────────────────────────────────────────
export { createTeam, inviteMember, type InviteOptions, type NewTeam } from "./auth/team.ts";
export { issueCapability, issueRevocation, type IssueOptions, type SignedBlob } from "./auth/capability.ts";
export type { Permission } from "./auth/attributes.ts";
export { TeamPolicy } from "./auth/policy.ts";
export { describeRefusal, type Refusal, type RefusalKind } from "./auth/refusal.ts";

// ── Sync ───────────────────────────────────────────────────────────────────────────────────────
export { TeamSync, type TeamSyncOptions, type TeamSyncEvent } from "./net/team-sync.ts";
export { pullBranch, PullError, type PullErrorCode, type PullOptions, type PullResult } from "./net/pull.ts";
export { Peer, type PeerEvents, type PeerNetwork, type RemoteHead, type SyncDirection } from "./net/peer.ts";
export { SyncNode, type SyncEvent, type SyncNodeOptions } from "./net/sync.ts";
export { credentialsFor } from "./net/credentials.ts";
export type { Credentials } from "./net/client.ts";
export type { FetchProgress, FetchSummary } from "./net/fetch.ts";
export { peerIdFromKey } from "./net/host.ts";
// ── Reaching peers ─────────────────────────────────────────────────────────────────────────────
export { SYNC_LISTEN, SYNC_PORT } from "./net/host.ts";
export { AddressBook, addressBookPath, type BookEntry } from "./net/address-book.ts";
export { controlSocketPath, askControl, NoSyncRunningError } from "./net/control-socket.ts";
export { parseDialTarget, type DialTarget } from "./net/dial-target.ts";
export { runDoctor, doctorWithoutSync, type DoctorReport, type Check } from "./net/doctor.ts";
export type { NodeStatus, PeerStatus } from "./net/status.ts";

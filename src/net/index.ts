/**
 * `tribles/net`: syncing stores between machines over libp2p (QUIC and TCP). {@link TeamSync} syncs
 * a store with a team, {@link pullBranch} pulls one branch once, {@link Peer} is a store that
 * publishes its changes and takes in its peers', and {@link SyncNode} is the node underneath.
 *
 * @module tribles/net
 */

export type { Credentials } from "./client.ts";
export { credentialsFor } from "./credentials.ts";
export type { FetchProgress, FetchSummary } from "./fetch.ts";
export { peerIdFromKey } from "./peer-key.ts";
export { Peer, type PeerEvents, type PeerNetwork, type RemoteHead, type SyncDirection } from "./peer.ts";
export { PullError, type PullErrorCode, type PullOptions, type PullResult, pullBranch } from "./pull.ts";
export { type SyncEvent, SyncNode, type SyncNodeOptions } from "./sync.ts";
export { TeamSync, type TeamSyncEvent, type TeamSyncOptions } from "./team-sync.ts";

// Reaching peers: default listening, dial by key, remembered peers, status and doctor, relays.
export { SYNC_LISTEN, SYNC_PORT } from "./host.ts";
export { AddressBook, addressBookPath, type BookEntry } from "./address-book.ts";
export { askControl, controlSocketPath, NoSyncRunningError } from "./control-socket.ts";
export { type DialTarget, parseDialTarget } from "./dial-target.ts";
export { type Check, type DoctorReport, doctorWithoutSync, runDoctor } from "./doctor.ts";
export type { NodeStatus, PeerStatus } from "./status.ts";
export type { ReachEvent, ReachOptions, RelayLimits } from "./relay.ts";

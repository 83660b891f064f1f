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
 * Each layer is also its own entry point: `tribles/core`, `tribles/pile`, `tribles/repo`,
 * `tribles/auth`, `tribles/net`.
 *
 * @module tribles
 */

export * from "./core/index.ts";
export * from "./pile/index.ts";
export * from "./repo/index.ts";
export * from "./auth/index.ts";
export * from "./net/index.ts";

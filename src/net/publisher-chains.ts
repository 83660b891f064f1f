/**
 * A head relayed to us from a publisher we never authenticated is judged by the publisher's own
 * capability: we ask the peers we are connected to (the relaying one among them) for the chain
 * they verified for that key (pile-sync CHAIN), verify it ourselves, and remember it. Lookups are
 * bounded: one at a time per publisher, at most MAX_PEERS_ASKED peers each, at most
 * MAX_LOOKUPS_RUNNING publishers at once, and a publisher no peer had a chain for is not asked
 * about again for NEGATIVE_CACHE_MS.
 */
import type { TeamPolicy } from "../auth/policy.ts";
import type { Refusal } from "../auth/refusal.ts";
import { toHex } from "../core/bytes.ts";
import type { SyncClient } from "./client.ts";

const MAX_PEERS_ASKED = 4;
const MAX_LOOKUPS_RUNNING = 16;
const NEGATIVE_CACHE_MS = 10_000;
/** A peer that does not answer CHAIN within this long is skipped. */
const ANSWER_MS = 2000;

export type ChainLookup = { ok: true } | { ok: false; refusal: Refusal | undefined };

export class PublisherChains {
  private readonly running = new Map<string, Promise<ChainLookup>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly policy: TeamPolicy,
    private readonly clients: () => SyncClient[],
  ) {}

  /** Finds, verifies and remembers `publisher`'s capability chain from connected peers. */
  lookup(publisher: Uint8Array): Promise<ChainLookup> {
    if (this.policy.capabilityOf(publisher)) return Promise.resolve({ ok: true });
    const hex = toHex(publisher);
    const failed = this.failedAt.get(hex);
    if (failed !== undefined && Date.now() - failed < NEGATIVE_CACHE_MS) return Promise.resolve({ ok: false, refusal: this.policy.refusalFor(publisher) });
    let running = this.running.get(hex);
    if (!running) {
      if (this.running.size >= MAX_LOOKUPS_RUNNING) return Promise.resolve({ ok: false, refusal: undefined });
      running = this.ask(publisher).finally(() => this.running.delete(hex));
      this.running.set(hex, running);
    }
    return running;
  }

  private async ask(publisher: Uint8Array): Promise<ChainLookup> {
    const hex = toHex(publisher);
    const asked = this.clients().slice(0, MAX_PEERS_ASKED);
    let refusal: Refusal | undefined;
    const answers = asked.map(async (client) => {
      const chain = await Promise.race([client.chainOf(publisher), new Promise<null>((r) => setTimeout(() => r(null), ANSWER_MS).unref?.())]);
      if (!chain?.length) return false;
      const result = this.policy.learnChain(publisher, chain);
      if ("kind" in result) {
        refusal = result;
        return false;
      }
      return true;
    });
    // The first peer whose chain verifies settles it; the others' answers are not awaited.
    const found = await new Promise<boolean>((resolve) => {
      let left = answers.length;
      if (left === 0) resolve(false);
      for (const answer of answers) {
        void answer.then(
          (ok) => (ok ? resolve(true) : --left === 0 && resolve(false)),
          () => --left === 0 && resolve(false),
        );
      }
    });
    if (found) {
      this.failedAt.delete(hex);
      return { ok: true };
    }
    this.failedAt.set(hex, Date.now());
    return { ok: false, refusal: refusal ?? this.policy.refusalFor(publisher) };
  }
}

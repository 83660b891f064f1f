/**
 * Team policy admission as a pile grows: the time `TeamPolicy.admits` takes for a gossiped head
 * right after one more blob was stored (each admission first picks up revocations stored since
 * the last), at 10,000, 100,000 and 1,000,000 blobs in a pile, against a full rescan of the pile
 * for revocations measured in the same run (3 rounds at a million, where one rescan takes seconds). Run: `npm run bench -- policy`.
 */
import { collectRevocations, issueCapability, issueRevocation } from "../src/auth/capability.ts";
import { TeamPolicy } from "../src/auth/policy.ts";
import { SigningKey } from "../src/core/ed25519.ts";
import { genId } from "../src/core/id.ts";
import { Pile } from "../src/pile/pile.ts";
import { tempDir } from "../test/pile/helpers.ts";
import { type BenchRow, median, report } from "./lib.ts";

const ROUNDS = 7;
const root = SigningKey.generate();
const member = SigningKey.generate();
const branch = genId();
const tmp = tempDir("tribles-bench-policy-");
const rows: BenchRow[] = [];

try {
  for (const blobs of [10_000, 100_000, 1_000_000]) {
    const pile = Pile.open(tmp.path(`policy-${blobs}.pile`));
    const cap = issueCapability({ issuer: root, subject: member.publicKey, perms: ["write"] });
    const someoneElse = issueRevocation(root, SigningKey.generate().publicKey);
    pile.putMany([cap.blob, cap.sigBlob, someoneElse.blob, someoneElse.sigBlob]);
    // Commit-sized blobs (a mix of small archives and larger contents), as a synced pile holds.
    for (let stored = 4; stored < blobs; stored += 5000) {
      pile.putMany(Array.from({ length: Math.min(5000, blobs - stored) }, (_, i) => crypto.getRandomValues(new Uint8Array(i % 4 === 0 ? 1024 : 64 * (1 + (i % 8))))));
    }
    const policy = new TeamPolicy(pile, root.publicKey);
    if (!policy.authorize({ capHandle: cap.sigHandle, remoteKey: member.publicKey, chain: [] })) throw new Error("the member's capability did not verify");
    const admit: number[] = [];
    const rescan: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      pile.put(crypto.getRandomValues(new Uint8Array(256))); // a new commit arrived
      let t0 = performance.now();
      if (!policy.admits(member.publicKey, branch)) throw new Error("the member was not admitted");
      admit.push(performance.now() - t0);
      if (blobs >= 1_000_000 && round >= 3) continue;
      t0 = performance.now();
      const revoked = collectRevocations(pile.reader(), [root.publicKey]);
      rescan.push(performance.now() - t0);
      if (revoked.size !== 1) throw new Error("the full rescan missed the revocation");
    }
    const name = `admit a head after 1 new blob (${blobs.toLocaleString("en")} blobs in the pile)`;
    rows.push({ name, impl: "full rescan for revocations", value: median(rescan), unit: "ms", higherIsBetter: false });
    rows.push({ name, impl: "TeamPolicy.admits", value: median(admit), unit: "ms", higherIsBetter: false, referenceImpl: "full rescan for revocations" });
    pile.close();
  }
} finally {
  tmp.cleanup();
}
report("policy", rows);

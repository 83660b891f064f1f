/**
 * A one-shot pull: fetch a branch from one peer into a local pile, print its notes, and exit.
 *
 *   bun examples/pull-once.ts --pile dave.pile --key dave.key --cap HEX --from MULTIADDR [--branch notes]
 */
import { parseArgs } from "node:util";
import { fromHex, loadKey, Pile, PullError, pullBranch, Repository } from "tribles";
import { NOTES_BRANCH, notesAt, say } from "./notes.ts";

const { values } = parseArgs({
  options: {
    pile: { type: "string" },
    key: { type: "string" },
    cap: { type: "string" },
    from: { type: "string" },
    branch: { type: "string", default: NOTES_BRANCH },
  },
});
if (!values.pile || !values.key || !values.from) throw new Error("usage: pull-once.ts --pile P --key K --cap HEX --from MULTIADDR [--branch NAME]");

const pile = Pile.open(values.pile);
try {
  const pulled = await pullBranch({
    store: pile,
    key: loadKey({ path: values.key }).key,
    from: values.from,
    branch: values.branch,
    capability: values.cap ? fromHex(values.cap, 32) : null,
  });
  pile.flush();
  say("pulled", { status: pulled.status, blobs: pulled.summary.blobs, notes: notesAt(new Repository(pile), pulled.commit) });
} catch (err) {
  if (!(err instanceof PullError)) throw err;
  say("failed", { code: err.code, error: err.message });
  process.exitCode = 1;
} finally {
  pile.close();
}

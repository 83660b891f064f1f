/**
 * An app that keeps its state in a pile synced with the team: notes, stored as facts. Each
 * instance runs until its input ends; commands on stdin, one per line:
 *
 *   add TEXT    commit a note
 *   list        print the notes
 *
 *   bun examples/notes-app.ts --pile alice.pile --key alice.key --team-root HEX --cap HEX \
 *     [--listen /ip4/127.0.0.1/tcp/0] [--peer MULTIADDR]…
 *
 * It prints JSON lines: "listening" (its addresses), "notes" whenever the notes change (its own
 * commits or a peer's, merged into the local branch by TeamSync's merge policy).
 */
import { parseArgs } from "node:util";
import { adoptTrackedBranch, fromHex, loadKey, Pile, Repository, TeamSync } from "tribles";
import { localNotes, NOTES_BRANCH, noteFacts, say } from "./notes.ts";

const { values } = parseArgs({
  options: {
    pile: { type: "string" },
    key: { type: "string" },
    "team-root": { type: "string" },
    cap: { type: "string" },
    listen: { type: "string", multiple: true },
    peer: { type: "string", multiple: true },
  },
});
if (!values.pile || !values.key || !values["team-root"]) throw new Error("usage: notes-app.ts --pile P --key K --team-root HEX [--cap HEX] [--listen A] [--peer A]");

const pile = Pile.open(values.pile);
const { key } = loadKey({ path: values.key });
const sync = await TeamSync.start({
  store: pile,
  key,
  teamRoot: fromHex(values["team-root"], 32),
  capability: values.cap ? fromHex(values.cap, 32) : null,
  direction: "bidirectional",
  listen: values.listen ?? ["/ip4/127.0.0.1/tcp/0"],
  peers: values.peer ?? [],
  watchFile: values.pile,
  onEvent: (e) => {
    if (e.type === "listening") say("listening", { peerId: e.peerId, addrs: e.addrs });
    if (e.type === "merged") showIfChanged();
    if (e.type === "error") say("error", { error: e.error.message });
  },
});
// Reads and commits go through the synced store: commits are published, remote ones applied.
const repo = new Repository(sync.store, key);

let shown = "";
function showIfChanged(): void {
  const notes = localNotes(repo);
  if (JSON.stringify(notes) === shown) return;
  shown = JSON.stringify(notes);
  say("notes", { notes });
}

showIfChanged();
for await (const line of console) {
  const [command, ...rest] = line.trim().split(" ");
  if (command === "add") {
    // Commit on the team's branch when a peer's "notes" arrived first (its id, not a new one).
    adoptTrackedBranch(repo, NOTES_BRANCH);
    repo.commit(NOTES_BRANCH, noteFacts(rest.join(" ")), "a note");
    showIfChanged();
  } else if (command === "list") say("notes", { notes: localNotes(repo) });
}
await sync.stop();
pile.close();

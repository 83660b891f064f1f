/**
 * Follows a branch of the team read-only: never publishes, never writes a branch of its own; it
 * prints the branch's notes each time a peer's new head arrives in its tracking branch.
 *
 *   bun examples/follow.ts --pile carol.pile --key carol.key --team-root HEX --cap HEX --peer MULTIADDR
 */
import { parseArgs } from "node:util";
import { fromHex, loadKey, Pile, Repository, TeamSync } from "tribles";
import { NOTES_BRANCH, notesAt, say } from "./notes.ts";

const { values } = parseArgs({
  options: {
    pile: { type: "string" },
    key: { type: "string" },
    "team-root": { type: "string" },
    cap: { type: "string" },
    peer: { type: "string", multiple: true },
    branch: { type: "string", default: NOTES_BRANCH },
  },
});
if (!values.pile || !values.key || !values["team-root"]) throw new Error("usage: follow.ts --pile P --key K --team-root HEX --cap HEX --peer A [--branch NAME]");

const pile = Pile.open(values.pile);
const { key } = loadKey({ path: values.key });
const repo = new Repository(pile);
const sync = await TeamSync.start({
  store: pile,
  key,
  teamRoot: fromHex(values["team-root"], 32),
  capability: values.cap ? fromHex(values.cap, 32) : null,
  direction: "readonly",
  merge: false, // remote heads stay in their tracking branches: nothing local is written
  branches: [values.branch],
  listen: ["/ip4/127.0.0.1/tcp/0"],
  peers: values.peer ?? [],
  onEvent: (e) => {
    if (e.type === "listening") say("listening", { peerId: e.peerId });
    if (e.type === "applied" && e.result.status === "applied") say("notes", { notes: notesAt(repo, e.result.head) });
  },
});

for await (const _ of console); // runs until stdin closes
await sync.stop();
pile.close();

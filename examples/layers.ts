/**
 * An app that imports only the layers it uses, by their entry points: commits a note to a pile and
 * reads it back, and shows each entry point hands out the same classes as "tribles".
 *
 *   bun examples/layers.ts PILE
 */
import * as all from "tribles";
import * as auth from "tribles/auth";
import { genId, idFromHex, SigningKey, shortStringFromValue, shortStringValue, TribleSet, valuePart } from "tribles/core";
import * as net from "tribles/net";
import { Pile } from "tribles/pile";
import { Repository } from "tribles/repo";

const path = process.argv[2];
if (!path) throw new Error("usage: layers.ts PILE");

const TEXT = idFromHex("5E2F0C8A6B1D4E7F9A3C2B1D0E4F6A8B");
const pile = Pile.open(path);
try {
  const repo = new Repository(pile, SigningKey.generate());
  const head = repo.commit("layers", new TribleSet().add(genId(), TEXT, shortStringValue("from the layers")), "one note");
  const notes = repo
    .checkout(head)
    .find({ a: TEXT })
    .map((t) => shortStringFromValue(valuePart(t)));
  const same = { Pile: Pile === all.Pile, Repository: Repository === all.Repository, TeamPolicy: auth.TeamPolicy === all.TeamPolicy, Peer: net.Peer === all.Peer };
  console.log(JSON.stringify({ event: "layers", notes, same }));
} finally {
  pile.close();
}

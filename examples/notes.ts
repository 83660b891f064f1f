/**
 * The facts the example apps keep: notes. A note is an entity with one attribute, its text (a
 * ShortString, up to 32 bytes). Attribute ids are fixed 16-byte ids chosen once for the app.
 */
import { genId, idFromHex, type Repository, shortStringFromValue, shortStringValue, TribleSet, valuePart } from "tribles";

/** The attribute "note text" of this app. */
export const NOTE_TEXT = idFromHex("5E2F0C8A6B1D4E7F9A3C2B1D0E4F6A8B");
/** The branch the notes live on. */
export const NOTES_BRANCH = "notes";

/** The facts of one new note. */
export function noteFacts(text: string): TribleSet {
  return new TribleSet().add(genId(), NOTE_TEXT, shortStringValue(text));
}

/** Every note's text in the commit `head` and its history, sorted. */
export function notesAt(repo: Repository, head: Uint8Array | null | undefined): string[] {
  if (!head) return [];
  return repo
    .checkout(head)
    .find({ a: NOTE_TEXT })
    .map((t) => shortStringFromValue(valuePart(t)))
    .sort();
}

/** The notes on the local branch `notes`. */
export function localNotes(repo: Repository): string[] {
  return notesAt(repo, repo.lookupBranch(NOTES_BRANCH)?.meta.head);
}

/** Prints one JSON line (what the tests read). */
export function say(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

/** LongString blobs: the UTF-8 bytes of a string, nothing else (FORMATS §4). */
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The LongString blob of a string (its UTF-8 bytes); refuses a lone surrogate. */
export function encodeLongString(s: string): Uint8Array {
  // TextEncoder would silently turn a lone surrogate into U+FFFD and store different text.
  if (!s.isWellFormed()) throw new Error("LongString must be well-formed Unicode (it has a lone surrogate)");
  return encoder.encode(s);
}

/** The string in a LongString blob; throws on invalid UTF-8. */
export function decodeLongString(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Error("LongString blob is not valid UTF-8");
  }
}

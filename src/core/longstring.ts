/** LongString blobs: the UTF-8 bytes of a string, nothing else (FORMATS §4). */
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeLongString(s: string): Uint8Array {
  return encoder.encode(s);
}

export function decodeLongString(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Error("LongString blob is not valid UTF-8");
  }
}

/** Four word indices into a 4×4 state of 32-bit words (row-major). */
export type Quad = readonly [number, number, number, number];

/** The columns, then the diagonals, of a 4×4 state, as BLAKE3's G and ChaCha's quarter round both visit them. */
export const COLUMNS_THEN_DIAGONALS: readonly Quad[] = [
  [0, 4, 8, 12],
  [1, 5, 9, 13],
  [2, 6, 10, 14],
  [3, 7, 11, 15],
  [0, 5, 10, 15],
  [1, 6, 11, 12],
  [2, 7, 8, 13],
  [3, 4, 9, 14],
];

// @ts-nocheck: AssemblyScript source (compiled by asc, not tsc)
// Memory map of the BLAKE3 kernel (byte addresses). AssemblyScript places no static data in this
// module (build.ts checks), so everything below INPUT is ours.

/** 8 little-endian words: the key (the IV in plain hash mode, the context key in derive mode). */
export const KEY: usize = 4096;
/** Zero-padded copies of each lane's final partial block (4 × 64). */
export const PAD: usize = 4288;
/** Where outputs of unused lanes go (4 × 32). */
export const DUMMY: usize = 4544;
/** Hasher state: u32 stack length @0, u32 mode flags @4, u64 chunks absorbed @8. */
export const STATE: usize = 4672;
// Lane parameters for runLanes, each four u32/i32 (one per lane).
export const L_PTR: usize = 4704;
export const L_LEN: usize = 4720;
export const L_CTR_LO: usize = 4736;
export const L_CTR_HI: usize = 4752;
export const L_ROOT: usize = 4768;
export const L_OUT: usize = 4784;
export const L_BLOCKS: usize = 4800;
// Per-block lane values for runLanes.
export const B_PTR: usize = 4816;
export const B_LEN: usize = 4832;
export const B_FLAGS: usize = 4848;
export const B_MASK: usize = 4864;
/** One-shot output (32 bytes). */
export const RESULT: usize = 4896;
/**
 * Holds the address CV, written at instantiation. compress4 gets its base address from here: an
 * address the optimiser cannot see as a constant stays a register, and JavaScriptCore then folds
 * every scratch offset into the instructions instead of materialising each absolute address.
 */
export const CV_ADDR: usize = 5056;
/** Chaining-value stack: one entry (32 bytes) per complete subtree, oldest first; 64 entries. */
export const STACK: usize = 5120;
/**
 * Chaining values of the four lanes, transposed: word w of every lane = 16 bytes at CV + 16w;
 * then compress4's scratch (the transposed message and the state, 512 bytes) up to CV + 640.
 */
export const CV: usize = 7168;
/** Chaining values of the subtree being reduced (MAX_SUBTREE × 32 bytes). */
export const SUB: usize = 8192;
export const MAX_SUBTREE: i32 = 128;
/** Inputs (and batch tables and outputs) start here; the host grows memory as needed. */
export const INPUT: usize = 65536;

/**
 * Shared benchmark plumbing: timing, a printed table with a ratio against a reference measured in
 * the same run, and JSON results under bench/results/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface BenchRow {
  /** What was measured, e.g. "put 1 KiB blobs". */
  name: string;
  /** Implementation or variant, e.g. "tribles pile" or "raw fs append". */
  impl: string;
  /** The measured figure. */
  value: number;
  /** Its unit, e.g. "MB/s", "µs", "M rec/s", "B/blob". */
  unit: string;
  /** The target from DESIGN.md or the issue, as text (e.g. "≥ 200 MB/s"), if any. */
  target?: string;
  /** Name of the reference row (same `name`, this `impl`) the ratio is computed against. */
  referenceImpl?: string;
  /** True when a larger value is better (throughputs); false for times and sizes. */
  higherIsBetter?: boolean;
}

/** Median of the samples. */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` `runs` times and returns the median wall time in milliseconds. */
export function timeMedianMs(fn: () => void, runs = 5): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

/** Async variant of `timeMedianMs`. */
export async function timeMedianMsAsync(fn: () => Promise<void>, runs = 5): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

function formatValue(v: number): string {
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (abs >= 1000) return v.toFixed(0);
  if (abs >= 100) return v.toFixed(1);
  if (abs >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** Prints rows as a table (with ratios against their reference rows) and writes bench/results/<suite>.json. */
export function report(suite: string, rows: BenchRow[]): void {
  const withRatio = rows.map((r) => {
    const ref = r.referenceImpl ? rows.find((o) => o.name === r.name && o.impl === r.referenceImpl) : undefined;
    let ratio: number | undefined;
    if (ref && ref.value > 0 && r.value > 0) ratio = r.higherIsBetter === false ? ref.value / r.value : r.value / ref.value;
    return { ...r, ratio };
  });
  const header = ["benchmark", "implementation", "value", "unit", "vs reference", "target"];
  const lines = withRatio.map((r) => [
    r.name,
    r.impl,
    formatValue(r.value),
    r.unit,
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}× ${r.referenceImpl}`,
    r.target ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n## ${suite}\n`);
  console.log(fmt(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) console.log(fmt(l));
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  const out = {
    suite,
    date: new Date().toISOString(),
    bun: Bun.version,
    platform: `${process.platform}-${process.arch}`,
    rows: withRatio,
  };
  writeFileSync(join(dir, `${suite}.json`), JSON.stringify(out, null, 2) + "\n");
}

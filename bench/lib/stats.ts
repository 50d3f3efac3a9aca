/**
 * @module bench/lib/stats
 * Small statistics and formatting helpers: these machines are noisy, so every figure is the
 * median of several interleaved runs, and spread is reported as min..max.
 */

/** The median (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Microseconds with 3 significant decimals for small values, fewer for large ones. */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  return us < 1 ? us.toFixed(3) : us < 100 ? us.toFixed(2) : us.toFixed(0);
}

/** Milliseconds from nanoseconds. */
export function fmtMs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  const ms = ns / 1e6;
  return ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0);
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  return r < 10 ? `${r.toFixed(2)}x` : `${r.toFixed(1)}x`;
}

/** Right-pads (or left-pads with `right`) for a plain-text table. */
export function pad(s: string, width: number, right = false): string {
  return right ? s.padStart(width) : s.padEnd(width);
}

/** A plain-text table: the first row is the header. Columns after the first are right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ').trimEnd()).join('\n');
}

/**
 * The order of the rows in round `round`: a permutation of 0..n-1, shuffled with a PRNG seeded
 * by the round (reproducible), so that no row always runs right after the same other row
 * (a plain rotation keeps neighbours: a row after a heavy one would always pay for it).
 */
export function roundOrder(n: number, round: number): number[] {
  let seed = (0x9e3779b9 * (round + 1)) >>> 0;
  const rand = (): number => {
    // xorshift32
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed / 2 ** 32;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * @module test/helpers/mutate
 * Program mutations and random instruction soup for the verifier's fuzzing
 * (test/verifier-fuzz.test.ts, scripts/fuzz.ts) and its comparison with the kernel
 * (test/verifier-kernel.test.ts).
 *
 * Structured mutations model the mistakes people make and the edges a verifier must get right:
 * flipped or inverted conditions, dropped NULL checks, changed offsets and access sizes,
 * swapped registers, other immediates, helpers and map indices, retargeted jumps, replaced,
 * deleted, duplicated or swapped instructions. Byte-level mutation flips bits of the encoding,
 * so anything may come out, valid or not. Random instruction soup uses only valid encodings
 * (every opcode of src/ebpf/opcodes.ts FORMS, fields within their rules).
 *
 * Everything is driven by a seeded Rng (test/helpers/progen.ts), so a program is reproduced
 * from its seed alone.
 */
import type { Insn } from '../../src/ebpf/insn.js';
import { FORMS, checkInsn } from '../../src/ebpf/opcodes.js';
import { decodeInsns, encodeInsns } from '../../src/ebpf/codec.js';
import { interesting32, type Rng } from './progen.js';

const LDDW = 0x18;
const CLS = (c: number): number => c & 7;
const LDX = 1, ST = 2, STX = 3, JMP = 5, JMP32 = 6;
const CALL = 0x80, EXIT = 0x90, JA = 0x00;

/** Helper ids worth calling: everything the seccomp tables grant, and a few they do not. */
export const FUZZ_HELPERS: readonly number[] = [
  1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 35, 42, 45, 112, 113, 114, 115, 118, 125, 130, 131, 132, 133, 134,
  156, 157, 158, 160, 9, 26, 46, 164, 0, 999,
];

const isCondJump = (x: Insn): boolean => {
  const cls = CLS(x.code);
  const op = x.code & 0xf0;
  return (cls === JMP || cls === JMP32) && op !== JA && op !== CALL && op !== EXIT && op <= 0xd0;
};
const isMem = (x: Insn): boolean => {
  const cls = CLS(x.code);
  return cls === LDX || cls === ST || cls === STX;
};

/** Indices of instruction starts (the second slot of an lddw is not one). */
export function insnStarts(insns: readonly Insn[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < insns.length; i++) {
    out.push(i);
    if (insns[i]!.code === LDDW) i++;
  }
  return out;
}

// Jump opcodes: inverting maps each condition to its negation.
const JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50, JSGT = 0x60, JSGE = 0x70, JLT = 0xa0, JLE = 0xb0, JSLT = 0xc0, JSLE = 0xd0;
const INVERSE: Record<number, number> = {
  [JEQ]: JNE, [JNE]: JEQ, [JGT]: JLE, [JLE]: JGT, [JGE]: JLT, [JLT]: JGE,
  [JSGT]: JSLE, [JSLE]: JSGT, [JSGE]: JSLT, [JSLT]: JSGE, [JSET]: JEQ,
};
const COND_OPS = [JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, JLT, JLE, JSLT, JSLE];

export type MutationKind =
  | 'invert-jump' | 'flip-jump' | 'drop-null-check' | 'offset' | 'size' | 'swap-reg' | 'imm' | 'helper'
  | 'map-index' | 'jump-target' | 'replace' | 'delete' | 'duplicate' | 'swap' | 'bits';

export const MUTATION_KINDS: readonly MutationKind[] = [
  'invert-jump', 'flip-jump', 'drop-null-check', 'offset', 'size', 'swap-reg', 'imm', 'helper',
  'map-index', 'jump-target', 'replace', 'delete', 'duplicate', 'swap', 'bits',
];

export interface MutationResult {
  insns: Insn[];
  /** What was done, e.g. ["offset@12", "swap-reg@3"] (for failure messages). */
  applied: string[];
}

/** A random instruction with a valid encoding (one slot; lddw gives two). */
export function randomInsn(rng: Rng, opts: { progLen?: number; at?: number } = {}): Insn[] {
  const codes = RANDOM_CODES;
  for (;;) {
    const code = rng.pick(codes);
    const form = FORMS.get(code)!;
    const field = (rule: typeof form.dst, kind: 'reg' | 'off' | 'imm'): number => {
      if (rule === 'zero') return 0;
      if (rule === 'reg') return rng.chance(0.98) ? rng.int(10) : 10;
      if (rule === 'any') {
        if (kind === 'off') {
          if (CLS(code) === JMP || CLS(code) === JMP32) return rng.int(9) - 2;
          return rng.chance(0.6) ? -8 * (1 + rng.int(8)) : rng.int(80) - 8;
        }
        return interesting32(rng);
      }
      return rng.pick(rule);
    };
    const x: Insn = { code, dst: field(form.dst, 'reg'), src: field(form.src, 'reg'), off: field(form.off, 'off'), imm: field(form.imm, 'imm') };
    if (code === (JMP | CALL)) {
      x.src = rng.chance(0.85) ? 0 : 1;
      x.off = 0;
      x.imm = x.src === 0 ? rng.pick(FUZZ_HELPERS) : rng.int(7) - 2;
    }
    if (code === LDDW) {
      x.src = rng.pick([0, 0, 0, 1, 2]);
      if (x.src !== 0) x.imm = rng.int(3);
      const next = x.src === 2 ? rng.pick([0, 4, 8, 60, -8]) : x.src === 1 ? 0 : interesting32(rng);
      return [x, { code: 0, dst: 0, src: 0, off: 0, imm: next }];
    }
    if (form.extra?.(x)) continue;
    try { checkInsn([x], 0); } catch { continue; } // e.g. a shift by more than the width
    return [x];
  }
}

/** Opcodes for random instructions: every valid one but the legacy packet loads (refused for
 *  seccomp at once), with memory accesses and jumps weighted up. */
const RANDOM_CODES: readonly number[] = (() => {
  const all = [...FORMS.keys()].filter((c) => CLS(c) !== 0 || c === LDDW);
  const weighted = all.filter((c) => isMem({ code: c, dst: 0, src: 0, off: 0, imm: 0 }) || isCondJump({ code: c, dst: 0, src: 0, off: 0, imm: 0 }));
  return [...all, ...weighted, JMP | EXIT, JMP | CALL, JMP | CALL, 0xb7, 0xbf, 0xbf];
})();

/** Random instruction soup: `len` valid instructions, ending in exit most of the time. */
export function instructionSoup(rng: Rng, len: number): Insn[] {
  const out: Insn[] = [];
  // A prologue that makes some registers readable, so that the soup gets past the first check.
  for (let r = 0; r < 10; r++) if (rng.chance(0.5)) out.push({ code: 0xb7, dst: r, src: 0, off: 0, imm: interesting32(rng) });
  while (out.length < len) out.push(...randomInsn(rng));
  if (rng.chance(0.9)) out.push({ code: JMP | EXIT, dst: 0, src: 0, off: 0, imm: 0 });
  // Aim most jumps inside the program, forward most of the time.
  for (let i = 0; i < out.length; i++) {
    const x = out[i]!;
    if (x.code === LDDW) { i++; continue; }
    const cls = CLS(x.code), op = x.code & 0xf0;
    if ((cls !== JMP && cls !== JMP32) || op === EXIT || op === CALL || !rng.chance(0.9)) continue;
    const target = rng.chance(0.85) ? i + 1 + rng.int(Math.max(1, out.length - i - 1)) : rng.int(i + 1);
    if (cls === JMP32 && op === JA) x.imm = target - (i + 1);
    else x.off = target - (i + 1);
  }
  return out;
}

const copy = (insns: readonly Insn[]): Insn[] => insns.map((x) => ({ ...x }));

/**
 * Re-aims jump and call offsets after a slot was inserted at `at` (a copy of the instruction
 * that now follows it) or deleted from `at`, so that every jump keeps its target (a jump to a
 * deleted slot lands on the next one). Offsets that no longer fit are left as they are.
 */
function fixJumps(insns: Insn[], at: number, delta: 1 | -1): void {
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const cls = CLS(x.code);
    if (x.code === LDDW) { i++; continue; }
    if (cls !== JMP && cls !== JMP32) continue;
    const op = x.code & 0xf0;
    if (op === EXIT || (cls === JMP && op === CALL && x.src !== 1)) continue;
    const useImm = cls === JMP32 && op === JA ? true : cls === JMP && op === CALL;
    const rel = useImm ? x.imm : x.off;
    const origin = delta === 1 ? (i <= at ? i : i - 1) : (i < at ? i : i + 1);
    const target = origin + 1 + rel;
    const moved = delta === 1 ? (target > at ? target + 1 : target) : (target > at ? target - 1 : target);
    const nrel = moved - (i + 1);
    if (useImm) x.imm = nrel;
    else if (nrel >= -32768 && nrel <= 32767) x.off = nrel;
  }
}

/** Applies one mutation of `kind` in place; returns a description, or undefined if it did not apply. */
function applyOne(rng: Rng, insns: Insn[], kind: MutationKind): string | undefined {
  const starts = insnStarts(insns);
  if (starts.length === 0) return undefined;
  const pickWhere = (pred: (x: Insn, i: number) => boolean): number | undefined => {
    const c = starts.filter((i) => pred(insns[i]!, i));
    return c.length ? rng.pick(c) : undefined;
  };
  switch (kind) {
    case 'invert-jump': {
      const i = pickWhere(isCondJump);
      if (i === undefined) return undefined;
      const x = insns[i]!;
      x.code = (x.code & ~0xf0) | (INVERSE[x.code & 0xf0] ?? JEQ);
      return `${kind}@${i}`;
    }
    case 'flip-jump': {
      const i = pickWhere(isCondJump);
      if (i === undefined) return undefined;
      const x = insns[i]!;
      const r = rng.int(3);
      if (r === 0) x.code = (x.code & ~0xf0) | rng.pick(COND_OPS);
      else if (r === 1) x.code ^= 0x03; // JMP (5) <-> JMP32 (6)
      else x.code ^= 0x08; // K <-> X
      if (x.code & 0x08) { x.src = rng.int(11); x.imm = 0; } else { x.src = 0; x.imm = interesting32(rng); }
      return `${kind}@${i}`;
    }
    case 'drop-null-check': {
      // `if rX == 0 goto` / `if rX != 0 goto` after a helper call: remove or invert it.
      const i = pickWhere((x, j) => isCondJump(x) && (x.code & 0x08) === 0 && x.imm === 0
        && ((x.code & 0xf0) === JEQ || (x.code & 0xf0) === JNE) && insns.slice(Math.max(0, j - 4), j).some((p) => p.code === (JMP | CALL)));
      if (i === undefined) return undefined;
      const x = insns[i]!;
      if (rng.chance(0.5)) Object.assign(x, { code: JMP | JA, dst: 0, src: 0, off: 0, imm: 0 });
      else x.code = (x.code & ~0xf0) | ((x.code & 0xf0) === JEQ ? JNE : JEQ);
      return `${kind}@${i}`;
    }
    case 'offset': {
      const i = pickWhere(isMem);
      if (i === undefined) return undefined;
      const x = insns[i]!;
      x.off = Math.max(-32768, Math.min(32767, x.off + rng.pick([-8, -4, -2, -1, 1, 2, 4, 8, 16, 64, -64, 512, -512])));
      return `${kind}@${i}`;
    }
    case 'size': {
      const i = pickWhere(isMem);
      if (i === undefined) return undefined;
      const x = insns[i]!;
      x.code = (x.code & ~0x18) | rng.pick([0x00, 0x08, 0x10, 0x18]);
      return `${kind}@${i}`;
    }
    case 'swap-reg': { // only fields that hold registers: the encoding stays valid
      const i = rng.pick(starts);
      const x = insns[i]!;
      const form = FORMS.get(x.code);
      if (!form) return undefined;
      const fields = (['dst', 'src'] as const).filter((f) => form[f] === 'reg');
      if (fields.length === 0) return undefined;
      x[rng.pick(fields)] = rng.chance(0.95) ? rng.int(10) : 10;
      return `${kind}@${i}`;
    }
    case 'imm': { // only where the immediate is an operand
      const i = rng.pick(starts);
      const x = insns[i]!;
      const form = FORMS.get(x.code);
      if (!form || form.imm !== 'any' || x.code === (JMP | CALL) || (x.code === LDDW && x.src !== 0)) return undefined;
      const old = x.imm;
      x.imm = interesting32(rng);
      try { checkInsn(insns, i); } catch { x.imm = old; return undefined; }
      return `${kind}@${i}`;
    }
    case 'helper': {
      const i = pickWhere((x) => x.code === (JMP | CALL) && x.src === 0);
      if (i === undefined) return undefined;
      insns[i]!.imm = rng.pick(FUZZ_HELPERS);
      return `${kind}@${i}`;
    }
    case 'map-index': {
      const i = pickWhere((x) => x.code === LDDW && x.src !== 0);
      if (i === undefined) return undefined;
      const x = insns[i]!;
      const r = rng.int(4);
      if (r === 0) x.src = x.src === 1 ? 2 : 1;
      else if (r === 1 && i + 1 < insns.length) insns[i + 1]!.imm = rng.pick([-8, -1, 1, 4, 8, 64, 4096]);
      else x.imm += rng.pick([-1, 1, 2]);
      return `${kind}@${i}`;
    }
    case 'jump-target': {
      const i = pickWhere((x) => isCondJump(x) || (x.code === (JMP | JA)));
      if (i === undefined) return undefined;
      const x = insns[i]!;
      x.off = Math.max(-32768, Math.min(32767, x.off + rng.pick([-3, -2, -1, 1, 2, 3]) * (rng.chance(0.8) ? 1 : 4)));
      return `${kind}@${i}`;
    }
    case 'replace': {
      const i = rng.pick(starts);
      if (insns[i]!.code === LDDW) return undefined;
      const r = randomInsn(rng);
      if (r.length !== 1) return undefined;
      insns[i] = r[0]!;
      return `${kind}@${i}`;
    }
    case 'delete': {
      const i = rng.pick(starts);
      if (insns.length < 2 || insns[i]!.code === LDDW) return undefined;
      insns.splice(i, 1);
      fixJumps(insns, i, -1);
      return `${kind}@${i}`;
    }
    case 'duplicate': {
      const i = rng.pick(starts);
      if (insns[i]!.code === LDDW) return undefined;
      insns.splice(i, 0, { ...insns[i]! });
      fixJumps(insns, i, 1);
      return `${kind}@${i}`;
    }
    case 'swap': {
      const i = rng.pick(starts);
      const j = i + 1;
      if (j >= insns.length || insns[i]!.code === LDDW || insns[j]!.code === LDDW) return undefined;
      [insns[i], insns[j]] = [insns[j]!, insns[i]!];
      return `${kind}@${i}`;
    }
    case 'bits': {
      return bitFlip(rng, insns);
    }
  }
}

/** Flips 1-3 random bits of the encoding in place (any field, valid or not). */
function bitFlip(rng: Rng, insns: Insn[]): string {
  const bytes = encodeInsns(insns);
  const where: number[] = [];
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const b = rng.int(bytes.length);
    bytes[b]! ^= 1 << rng.int(8);
    where.push(b);
  }
  const out = decodeInsns(bytes);
  for (let i = 0; i < out.length; i++) insns[i] = out[i]!;
  return `bits@${where.map((b) => `${b >> 3}.${b & 7}`).join(',')}`;
}

/** Applies `count` (default 1-3) random mutations to a copy of `insns`. */
export function mutate(rng: Rng, insns: readonly Insn[], opts: { count?: number; kinds?: readonly MutationKind[] } = {}): MutationResult {
  const out = copy(insns);
  const applied: string[] = [];
  const count = opts.count ?? 1 + rng.int(3);
  const kinds = opts.kinds ?? MUTATION_KINDS;
  for (let tries = 0; applied.length < count && tries < count * 8; tries++) {
    const d = applyOne(rng, out, rng.pick(kinds));
    if (d) applied.push(d);
  }
  return { insns: out, applied };
}

/** Byte-level mutation: random bytes overwritten, bits flipped, slots truncated or repeated. */
export function mutateBytes(rng: Rng, insns: readonly Insn[]): MutationResult {
  const bytes = encodeInsns(insns);
  const applied: string[] = [];
  let b: Uint8Array = bytes;
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const r = rng.int(10);
    if (r < 6) {
      const at = rng.int(b.length);
      b[at] = r < 3 ? b[at]! ^ (1 << rng.int(8)) : rng.int(256);
      applied.push(`byte@${at}`);
    } else if (r < 8 && b.length > 16) {
      const cut = 8 * (1 + rng.int(b.length / 8 - 1));
      b = b.slice(0, cut);
      applied.push(`truncate@${cut / 8}`);
    } else {
      const at = 8 * rng.int(b.length / 8);
      const dup = new Uint8Array(b.length + 8);
      dup.set(b.subarray(0, at + 8));
      dup.set(b.subarray(at), at + 8);
      b = dup;
      applied.push(`repeat@${at / 8}`);
    }
  }
  return { insns: decodeInsns(b), applied };
}

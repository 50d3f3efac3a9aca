// Tests of the verifier's scalar domain (src/ebpf/verifier/{tnum,scalar}.ts).
//
// 1. Soundness, randomly with a fixed seed: abstract scalars are built together with concrete
//    members ("witnesses"); every operation is applied to both, with the interpreter's ALU
//    (src/ebpf/vm/alu.ts) as the concrete oracle, and each concrete result must be a member of
//    the abstract result. Branches: a pair that takes an edge must be in that edge's refined
//    pair (so a null edge is one no pair takes).
// 2. Precision: constants stay constants, masks, shifts and comparisons give the bounds the
//    kernel gives, with golden strings copied from the Linux 6.18 verifier log.
// 3. Differential against the kernel: seeded random straight-line programs with forward
//    branches are loaded into the kernel as socket filters and forced to fail at their end;
//    the kernel's log (register state after each instruction) must equal scalarFormat of our
//    state, instruction by instruction. Skipped with the reason when bpf(2) is unusable.
//    SECCOMP_EBPF_SCALAR_PROGRAMS overrides the number of programs (default 900).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_DW, BPF_IMM, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE,
  BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LD, BPF_LSH, BPF_MAP_TYPE_ARRAY, BPF_MOD, BPF_MOV, BPF_MUL,
  BPF_NEG, BPF_OR, BPF_PSEUDO_MAP_VALUE, BPF_RSH, BPF_SUB, BPF_XOR,
} from '../src/abi/bpf.js';
import { alu32, alu64, cond32, cond64, endian } from '../src/ebpf/vm/alu.js';
import {
  type Tnum, U64_MAX, tnumAdd, tnumAnd, tnumArshift, tnumBswap, tnumCast, tnumConst, tnumContains, tnumFormat, tnumIn,
  tnumIntersect, tnumLshift, tnumMul, tnumNeg, tnumOr, tnumOverlap, tnumRange, tnumRshift, tnumStep, tnumSub,
  tnumUnion, tnumUnknown, tnumWithSubreg, tnumXor,
} from '../src/ebpf/verifier/tnum.js';
import {
  type Scalar, S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, scalarAlu, scalarAluFork, scalarBranch, scalarBranchTaken,
  scalarConst, scalarConstValue, scalarContains, scalarEndian, scalarFormat, scalarFromLoad, scalarFromTnum,
  scalarIsUnknown, scalarMovsx, scalarRange, scalarSignedRange, scalarSubsumes, scalarTruncate, scalarUnknown,
} from '../src/ebpf/verifier/scalar.js';
import { insn, type Insn } from '../src/ebpf/insn.js';
import { disassemble } from '../src/ebpf/disasm.js';
import { bpfUnavailableReason, createMap, loadProgram, ProgLoadError, type KernelMap } from '../src/sys/bpf.js';
import { I, Rng, interesting32, interesting64 } from './helpers/progen.js';

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const lo32 = (x: bigint): number => Number(x & 0xffff_ffffn);
const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR, BPF_ARSH];
const JMP_OPS = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSET, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];

// ---------------------------------------------------------------------------------------------
// tnum
// ---------------------------------------------------------------------------------------------

function randomTnum(rng: Rng): Tnum {
  const k = rng.int(4);
  const mask = k === 0 ? 0n : k === 1 ? BigInt(rng.u32() & 0xff) : k === 2 ? rng.u64() & rng.u64() : rng.u64();
  return { value: rng.u64() & ~mask & U64_MAX, mask };
}
const member = (rng: Rng, t: Tnum): bigint => t.value | (rng.u64() & t.mask);

test('tnum: operations over-approximate their concrete counterparts', () => {
  const rng = new Rng('tnum-ops');
  const bin: [string, (a: Tnum, b: Tnum) => Tnum, (x: bigint, y: bigint) => bigint][] = [
    ['add', tnumAdd, (x, y) => u64(x + y)], ['sub', tnumSub, (x, y) => u64(x - y)], ['mul', tnumMul, (x, y) => u64(x * y)],
    ['and', tnumAnd, (x, y) => x & y], ['or', tnumOr, (x, y) => x | y], ['xor', tnumXor, (x, y) => x ^ y],
  ];
  for (let i = 0; i < 3000; i++) {
    const a = randomTnum(rng), b = randomTnum(rng);
    const x = member(rng, a), y = member(rng, b);
    for (const [name, f, g] of bin) {
      const t = f(a, b);
      assert.equal(t.value & t.mask, 0n, name);
      assert.ok(tnumContains(t, g(x, y)), `${name} ${tnumFormat(a)} ${tnumFormat(b)} x=${x} y=${y}`);
    }
    const k = rng.int(64);
    assert.ok(tnumContains(tnumLshift(a, k), u64(x << BigInt(k))));
    assert.ok(tnumContains(tnumRshift(a, k), x >> BigInt(k)));
    assert.ok(tnumContains(tnumArshift(a, k, 64), u64(BigInt.asIntN(64, x) >> BigInt(k))));
    const k32 = k & 31;
    assert.ok(tnumContains(tnumArshift(tnumCast(a, 4), k32, 32), BigInt.asUintN(32, BigInt.asIntN(32, x) >> BigInt(k32))));
    assert.ok(tnumContains(tnumNeg(a), u64(-x)));
    for (const bits of [16, 32, 64] as const) assert.ok(tnumContains(tnumBswap(a, bits), endian(x, bits, true)));
    assert.ok(tnumContains(tnumCast(a, 2), x & 0xffffn));
    const u = tnumUnion(a, b);
    assert.ok(tnumContains(u, x) && tnumContains(u, y) && tnumIn(u, a) && tnumIn(u, b));
    assert.ok(tnumContains(tnumWithSubreg(a, b), (x & ~0xffff_ffffn) | (y & 0xffff_ffffn)));
    // Intersection and overlap: a value in both is in the intersection.
    const b2: Tnum = { value: x & ~b.mask, mask: b.mask }; // b moved to share x
    assert.ok(tnumOverlap(a, b2));
    assert.ok(tnumContains(tnumIntersect(a, b2), x));
    if (tnumIn(b, a)) assert.ok(tnumContains(b, x));
    // tnumIn: a tnum with a subset of the unknown bits, through a member, is inside.
    const inner: Tnum = { value: x & ~(a.mask & b.mask), mask: a.mask & b.mask };
    assert.ok(tnumIn(a, inner));
    assert.ok(tnumContains(a, member(rng, inner)));
    assert.equal(tnumIn(inner, a), inner.mask === a.mask);
  }
});

test('tnum: range is the smallest tnum containing [min, max]', () => {
  const rng = new Rng('tnum-range');
  assert.deepEqual(tnumRange(0n, 255n), { value: 0n, mask: 0xffn });
  assert.deepEqual(tnumRange(3n, 100n), { value: 0n, mask: 0x7fn }); // kernel: movsx of [3,100]
  assert.deepEqual(tnumRange(0x100n, 0x13fn), { value: 0x100n, mask: 0x3fn });
  assert.deepEqual(tnumRange(0n, U64_MAX), tnumUnknown);
  assert.deepEqual(tnumRange(7n, 7n), tnumConst(7n));
  for (let i = 0; i < 2000; i++) {
    let a = interesting64(rng), b = rng.chance(0.5) ? interesting64(rng) : u64(a + BigInt(rng.int(1000)));
    if (a > b) [a, b] = [b, a];
    const t = tnumRange(a, b);
    assert.ok(tnumContains(t, a) && tnumContains(t, b));
    if (b > a) assert.ok(tnumContains(t, a + (rng.u64() % (b - a))));
    // Minimal: the unknown bits are exactly those at or below the highest differing bit.
    if (t.mask !== U64_MAX) assert.equal(t.mask, a === b ? 0n : (1n << BigInt((a ^ b).toString(2).length)) - 1n);
  }
});

test('tnum: step finds the next member (checked by enumeration)', () => {
  const rng = new Rng('tnum-step');
  for (let i = 0; i < 300; i++) {
    // Up to 7 unknown bits spread over 64, so the members can be listed.
    let mask = 0n;
    for (let j = rng.int(8); j > 0; j--) mask |= 1n << BigInt(rng.chance(0.5) ? rng.int(12) : rng.int(64));
    const t: Tnum = { value: rng.u64() & ~mask, mask };
    const members: bigint[] = [];
    const bits = [...Array(64).keys()].filter((b) => (mask >> BigInt(b)) & 1n);
    for (let k = 0; k < 1 << bits.length; k++) {
      let x = t.value;
      bits.forEach((b, j) => { if ((k >> j) & 1) x |= 1n << BigInt(b); });
      members.push(x);
    }
    members.sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));
    for (let j = 0; j < 20; j++) {
      let z = rng.chance(0.5) ? members[rng.int(members.length)]! + BigInt(rng.int(3)) - 1n : rng.u64();
      if (z < 0n || z > U64_MAX) z = 0n;
      assert.equal(tnumStep(t, z), members.find((m) => m > z), `${tnumFormat(t)} z=${z}`);
    }
  }
  assert.equal(tnumStep(tnumUnknown, U64_MAX), undefined);
});

test('tnum: kernel log format', () => {
  assert.equal(tnumFormat({ value: 0n, mask: 0xffn }), '(0x0; 0xff)');
  assert.equal(tnumFormat({ value: 0xffff_ffff_ffff_8000n, mask: 0x7fffn }), '(0xffffffffffff8000; 0x7fff)');
});

// ---------------------------------------------------------------------------------------------
// Scalar soundness with witnesses
// ---------------------------------------------------------------------------------------------

/** An abstract scalar with concrete values known to be members. */
interface Pop { s: Scalar; xs: bigint[] }

function wellFormed(s: Scalar, what: string): void {
  const ok = s.var.value >= 0n && s.var.value <= U64_MAX && s.var.mask >= 0n && s.var.mask <= U64_MAX && (s.var.value & s.var.mask) === 0n &&
    s.smin >= S64_MIN && s.smax <= S64_MAX && s.umin >= 0n && s.umax <= U64_MAX &&
    Number.isInteger(s.s32min) && s.s32min >= S32_MIN && s.s32max <= S32_MAX && s.u32min >= 0 && s.u32max <= U32_MAX;
  assert.ok(ok, `malformed result of ${what}: ${JSON.stringify(s, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
}

function mustContain(s: Scalar, x: bigint, what: () => string): void {
  if (!scalarContains(s, x)) assert.fail(`${what()}: 0x${u64(x).toString(16)} not in ${scalarFormat(s)} ${tnumFormat(s.var)} [${s.umin}, ${s.umax}] s[${s.smin}, ${s.smax}] u32[${s.u32min}, ${s.u32max}] s32[${s.s32min}, ${s.s32max}]`);
}

function makePop(s: Scalar, xs: bigint[], what: string): Pop {
  wellFormed(s, what);
  for (const x of xs) mustContain(s, x, () => `witness of ${what}`);
  return { s, xs };
}

function basePop(rng: Rng): Pop {
  const k = rng.int(8);
  const n = 6;
  if (k === 0) { const c = interesting64(rng); return makePop(scalarConst(c), [c], 'const'); }
  if (k === 1 || k === 2) {
    let a = interesting64(rng), b = k === 1 ? u64(a + BigInt(rng.int(5000))) : interesting64(rng);
    if (a > b) [a, b] = [b, a];
    const xs = [a, b, ...Array.from({ length: n - 2 }, () => a + rng.u64() % (b - a + 1n))];
    return makePop(scalarRange(a, b), xs, 'urange');
  }
  if (k === 3) {
    let a = BigInt.asIntN(64, interesting64(rng)), b = a + BigInt(rng.int(70000)) - 5000n;
    if (b > S64_MAX) b = S64_MAX;
    if (a > b) [a, b] = [b, a];
    const xs = [a, b, ...Array.from({ length: n - 2 }, () => a + rng.u64() % (b - a + 1n))].map(u64);
    return makePop(scalarSignedRange(a, b), xs, 'srange');
  }
  if (k === 4) { const t = randomTnum(rng); return makePop(scalarFromTnum(t), [t.value, t.value | t.mask, ...Array.from({ length: n - 2 }, () => member(rng, t))], 'tnum'); }
  if (k === 5) {
    const size = rng.pick([1, 2, 4, 8] as const), sx = size !== 8 && rng.chance(0.5);
    const xs = Array.from({ length: n }, () => { const r = rng.u64() & ((1n << BigInt(size * 8)) - 1n); return sx ? u64(BigInt.asIntN(size * 8, r)) : r; });
    return makePop(scalarFromLoad(size, sx), xs, `load${size}${sx ? 'sx' : ''}`);
  }
  if (k === 6) return makePop(scalarUnknown(), Array.from({ length: n }, () => interesting64(rng)), 'unknown');
  // A constant immediate as the kernel builds it for BPF_K (sign-extended s32).
  const imm = BigInt(interesting32(rng));
  return makePop(scalarConst(imm), [u64(imm)], 'imm');
}

/** Up to `n` results of f over pairs of witnesses (all pairs when they are few). */
function results(a: bigint[], b: bigint[], f: (x: bigint, y: bigint) => bigint, check: (r: bigint, x: bigint, y: bigint) => void, n = 6): bigint[] {
  const out: bigint[] = [];
  for (const x of a) for (const y of b) { const r = f(x, y); check(r, x, y); if (out.length < n) out.push(r); }
  return out;
}

test('scalar: every operation is sound (random, seeded)', () => {
  const rng = new Rng('scalar-soundness-1');
  const pool: Pop[] = Array.from({ length: 40 }, () => basePop(rng));
  const pick = (): Pop => (rng.chance(0.15) ? basePop(rng) : rng.pick(pool));
  const keep = (p: Pop): void => { if (p.xs.length > 0) pool[rng.int(pool.length)] = p; };
  const counts: Record<string, number> = {};
  const count = (k: string): void => { counts[k] = (counts[k] ?? 0) + 1; };
  for (let iter = 0; iter < 12000; iter++) {
    const kind = rng.int(100);
    const A = pick();
    if (kind < 45) {
      const op = rng.pick([...ALU_OPS, BPF_MOV, BPF_NEG]);
      const is64 = rng.chance(0.5);
      const signed = (op === BPF_DIV || op === BPF_MOD) && rng.chance(0.5);
      const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
      const B = shift && rng.chance(0.6) ? makePop(scalarConst(BigInt(rng.int(is64 ? 64 : 32))), [], 'shift') : pick();
      if (B.xs.length === 0) B.xs.push(scalarConstValue(B.s)!);
      const what = (): string => `${is64 ? 'alu64' : 'alu32'} op 0x${op.toString(16)}${signed ? ' signed' : ''} ${scalarFormat(A.s)} , ${scalarFormat(B.s)}`;
      const fork = scalarAluFork(op, is64, A.s, B.s);
      if (fork) {
        count('fork');
        for (const x of A.xs) assert.ok(scalarContains(fork[0], x) || scalarContains(fork[1], x), `fork loses ${x}: ${what()}`);
      }
      const R = scalarAlu(op, is64, A.s, B.s, signed);
      wellFormed(R, what());
      const off = signed ? 1 : 0;
      const f = is64 ? (x: bigint, y: bigint): bigint => alu64(op, x, y, off) : (x: bigint, y: bigint): bigint => BigInt(alu32(op, lo32(x), lo32(y), off));
      const xs = results(A.xs, B.xs, f, (r, x, y) => mustContain(R, r, () => `${what()} x=0x${x.toString(16)} y=0x${y.toString(16)}`));
      keep({ s: R, xs });
      count(`alu${op}`);
    } else if (kind < 52) {
      const is64 = rng.chance(0.5);
      const bits = is64 ? rng.pick([8, 16, 32] as const) : rng.pick([8, 16] as const);
      const R = scalarMovsx(A.s, bits, is64);
      wellFormed(R, 'movsx');
      const xs = A.xs.map((x) => (is64 ? alu64(BPF_MOV, 0n, x, bits) : BigInt(alu32(BPF_MOV, 0, lo32(x), bits))));
      xs.forEach((r, i) => mustContain(R, r, () => `movsx${is64 ? 64 : 32}/${bits} of ${scalarFormat(A.s)} x=${A.xs[i]}`));
      keep({ s: R, xs });
      count('movsx');
    } else if (kind < 58) {
      const kindE = rng.pick(['le', 'be', 'bswap'] as const), bits = rng.pick([16, 32, 64] as const);
      const R = scalarEndian(A.s, kindE, bits);
      wellFormed(R, 'endian');
      const xs = A.xs.map((x) => endian(x, bits, kindE !== 'le'));
      xs.forEach((r) => mustContain(R, r, () => `${kindE}${bits} of ${scalarFormat(A.s)}`));
      keep({ s: R, xs });
      count('endian');
    } else if (kind < 62) {
      const size = rng.pick([1, 2, 4, 8] as const), sx = rng.chance(0.5);
      const R = scalarTruncate(A.s, size, sx);
      wellFormed(R, 'truncate');
      const xs = A.xs.map((x) => (size === 8 ? x : sx ? u64(BigInt.asIntN(size * 8, x)) : x & ((1n << BigInt(size * 8)) - 1n)));
      xs.forEach((r) => mustContain(R, r, () => `truncate${size}${sx ? 'sx' : ''} of ${scalarFormat(A.s)}`));
      keep({ s: R, xs });
      count('truncate');
    } else if (kind < 92) {
      const op = rng.pick(JMP_OPS), is32 = rng.chance(0.4);
      const same = rng.chance(0.1);
      let B = same ? A : pick();
      // Constants near A's bounds make the boundary cases.
      if (!same && rng.chance(0.4)) {
        const near = [A.s.umin, A.s.umax, A.s.smin, A.s.smax, BigInt(A.s.u32min), BigInt(A.s.u32max), BigInt(A.s.s32min), BigInt(A.s.s32max)];
        const c = BigInt.asIntN(32, rng.pick(near) + BigInt(rng.int(5) - 2));
        B = makePop(scalarConst(c), [u64(c)], 'near');
      }
      const res = scalarBranch(op, is32, A.s, B.s, same);
      const what = (): string => `${is32 ? 'jmp32' : 'jmp'} op 0x${op.toString(16)}${same ? ' same reg' : ''} ${scalarFormat(A.s)} , ${scalarFormat(B.s)}`;
      for (const e of [res.taken, res.fallthrough]) if (e) { wellFormed(e[0], what()); wellFormed(e[1], what()); }
      const kept: [bigint[], bigint[]][] = [[[], []], [[], []]];
      const pairs: [bigint, bigint][] = same ? A.xs.map((x) => [x, x]) : A.xs.flatMap((x) => B.xs.map((y): [bigint, bigint] => [x, y]));
      for (const [x, y] of pairs) {
        const t = is32 ? cond32(op, lo32(x), lo32(y)) : cond64(op, x, y);
        const edge = t ? res.taken : res.fallthrough;
        if (!edge) assert.fail(`${what()}: x=0x${x.toString(16)} y=0x${y.toString(16)} takes the ${t ? 'taken' : 'fall-through'} edge, which is null`);
        mustContain(edge[0], x, () => `${what()} ${t ? 'taken' : 'fallthrough'} dst (y=0x${y.toString(16)})`);
        mustContain(edge[1], y, () => `${what()} ${t ? 'taken' : 'fallthrough'} src (x=0x${x.toString(16)})`);
        kept[t ? 0 : 1]![0].push(x);
      }
      const pred = scalarBranchTaken(op, is32, A.s, B.s);
      if (!same && pred !== -1) assert.equal(pred === 1 ? res.fallthrough : res.taken, null, what());
      for (const [i, e] of [res.taken, res.fallthrough].entries()) {
        if (e && kept[i]![0].length) keep({ s: e[0], xs: [...new Set(kept[i]![0])].slice(0, 6) });
      }
      count('branch');
    } else {
      // Pruning: whatever `old` subsumes must be contained in it.
      const B = pick();
      assert.ok(scalarSubsumes(A.s, A.s));
      assert.ok(scalarSubsumes(scalarUnknown(), A.s));
      if (scalarSubsumes(A.s, B.s)) {
        for (const x of B.xs) mustContain(A.s, x, () => `subsumes(${scalarFormat(A.s)}, ${scalarFormat(B.s)})`);
        count('subsumes');
      }
    }
  }
  // The mix actually exercised every kind of operation.
  for (const k of ['movsx', 'endian', 'truncate', 'branch', 'subsumes', 'fork', ...[...ALU_OPS, BPF_MOV, BPF_NEG].map((o) => `alu${o}`)]) {
    assert.ok((counts[k] ?? 0) > 0, `no ${k} checked`);
  }
});

test('scalar: loads of unknown memory contain every loaded value', () => {
  const rng = new Rng('scalar-loads');
  for (const size of [1, 2, 4, 8] as const) {
    for (const sx of size === 8 ? [false] : [false, true]) {
      const s = scalarFromLoad(size, sx);
      for (let i = 0; i < 200; i++) {
        const raw = rng.u64() & ((1n << BigInt(size * 8)) - 1n);
        mustContain(s, sx ? u64(BigInt.asIntN(size * 8, raw)) : raw, () => `load${size}${sx ? 'sx' : ''}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Precision (expected values: the Linux 6.18 verifier log of the same operations)
// ---------------------------------------------------------------------------------------------

const K = (v: number | bigint): Scalar => scalarConst(BigInt(v));
const unknownU8 = (): Scalar => scalarAlu(BPF_AND, true, scalarUnknown(), K(0xff));

test('precision: constants stay constants (division as in the kernel: unknown)', () => {
  const rng = new Rng('scalar-consts');
  for (let i = 0; i < 300; i++) {
    const a = interesting64(rng), b = rng.chance(0.3) ? BigInt(rng.int(64)) : interesting64(rng);
    for (const op of [...ALU_OPS, BPF_MOV, BPF_NEG]) {
      for (const is64 of [true, false]) {
        const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
        if (shift && b >= (is64 ? 64n : 32n)) continue; // the kernel rejects such immediates
        const r = scalarAlu(op, is64, K(a), K(b));
        if (op === BPF_DIV || op === BPF_MOD) { assert.ok(scalarIsUnknown(r)); continue; }
        const want = is64 ? alu64(op, a, b, 0) : BigInt(alu32(op, lo32(a), lo32(b), 0));
        assert.equal(scalarConstValue(r), want, `op 0x${op.toString(16)} ${is64} ${a} ${b}`);
      }
    }
    for (const bits of [8, 16, 32] as const) assert.equal(scalarConstValue(scalarMovsx(K(a), bits, true)), alu64(BPF_MOV, 0n, a, bits));
    for (const [kind, bits] of [['le', 16], ['le', 32], ['be', 16], ['be', 64], ['bswap', 32]] as const) {
      assert.equal(scalarConstValue(scalarEndian(K(a), kind, bits)), endian(a, bits, kind !== 'le'));
    }
  }
});

test('precision: masks, shifts and arithmetic', () => {
  const u8 = unknownU8();
  assert.equal(u8.umax, 255n);
  assert.equal(u8.umin, 0n);
  assert.deepEqual(u8.var, { value: 0n, mask: 0xffn });
  // (x & 0xff) << 3: [0, 2040], known low bits.
  const sh = scalarAlu(BPF_LSH, true, u8, K(3));
  assert.equal(scalarFormat(sh), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=2040,var_off=(0x0; 0x7f8))');
  // (x & 0xff0) >> 4: [0, 255].
  const r = scalarAlu(BPF_RSH, true, scalarAlu(BPF_AND, true, scalarUnknown(), K(0xff0)), K(4));
  assert.equal(r.umax, 255n);
  assert.deepEqual(r.var, { value: 0n, mask: 0xffn });
  // [1, 5] + [10, 20] = [11, 25].
  const s = scalarAlu(BPF_ADD, true, scalarRange(1n, 5n), scalarRange(10n, 20n));
  assert.equal([s.umin, s.umax].join(), '11,25');
  // All additions wrap: [2^64-2, 2^64-1] + 2 = [0, 1]; some wrap: unbounded.
  const w = scalarAlu(BPF_ADD, true, scalarRange(U64_MAX - 1n, U64_MAX), K(2));
  assert.equal([w.umin, w.umax].join(), '0,1');
  assert.equal(scalarAlu(BPF_ADD, true, scalarRange(U64_MAX - 1n, U64_MAX), K(1)).umax, U64_MAX);
  // 32-bit results are zero-extended.
  const z = scalarAlu(BPF_ADD, false, scalarUnknown(), K(1));
  assert.equal(z.umax, 0xffff_ffffn);
  // Shifts by anything but a constant below the width give an unknown value.
  assert.ok(scalarIsUnknown(scalarAlu(BPF_LSH, true, u8, scalarRange(0n, 3n))));
  assert.ok(scalarIsUnknown(scalarAlu(BPF_LSH, true, u8, K(64))));
  assert.ok(scalarIsUnknown(scalarAlu(BPF_RSH, false, u8, K(32))));
  // The opcodes.ts names are accepted too.
  assert.equal(scalarFormat(scalarAlu('and', true, scalarUnknown(), K(0xff))), scalarFormat(u8));
});

test('precision: golden states from the Linux 6.18 verifier log', () => {
  const x = scalarUnknown();
  const cases: [string, Scalar, string][] = [
    ['r &= 255', unknownU8(), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))'],
    ['r |= -32768', scalarAlu(BPF_OR, true, x, K(-32768)), 'scalar(smin=smin32=-32768,smax=smax32=-1,umin=0xffffffffffff8000,umin32=0xffff8000,var_off=(0xffffffffffff8000; 0x7fff))'],
    ['r |= 40000', scalarAlu(BPF_OR, true, x, K(40000)), 'scalar(smin=0x8000000000009c40,umin=umin32=40000,smin32=0x80009c40,var_off=(0x9c40; 0xffffffffffff63bf))'],
    ['r |= 70000', scalarAlu(BPF_OR, true, x, K(70000)), 'scalar(smin=0x8000000000011170,umin=umin32=0x11170,smin32=0x80011170,var_off=(0x11170; 0xfffffffffffeee8f))'],
    ['w8 = w0', scalarAlu(BPF_MOV, false, x, x), 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
    ['r s>>= 60', scalarAlu(BPF_ARSH, true, x, K(60)), 'scalar(smin=smin32=-8,smax=smax32=7)'],
    ['be16 (r & 255)', scalarEndian(unknownU8(), 'be', 16), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=0xff00,var_off=(0x0; 0xff00))'],
    ['be32 (r & 255)', scalarEndian(unknownU8(), 'be', 32), 'scalar(smin=0,smax=umax=umax32=0xff000000,smax32=0x7f000000,var_off=(0x0; 0xff000000))'],
    ['be64 (r & 255)', scalarEndian(unknownU8(), 'be', 64), 'scalar(smax=0x7f00000000000000,umax=0xff00000000000000,smin32=0,smax32=umax32=0,var_off=(0x0; 0xff00000000000000))'],
    ['le16 (r | 256)', scalarEndian(scalarAlu(BPF_OR, true, x, K(256)), 'le', 16), 'scalar(smin=umin=smin32=umin32=256,smax=umax=smax32=umax32=0xffff,var_off=(0x100; 0xfeff))'],
    ['-(r & 7)', scalarAlu(BPF_NEG, true, scalarAlu(BPF_AND, true, x, K(7)), x), 'scalar(smin=smin32=-7,smax=smax32=0)'],
    ['-r', scalarAlu(BPF_NEG, true, x, x), 'scalar()'],
    ['r /= 2 (const)', scalarAlu(BPF_DIV, true, K(10), K(2)), 'scalar()'],
    ['*(s8 *)', scalarFromLoad(1, true), 'scalar(smin=smin32=-128,smax=smax32=127)'],
    ['*(s16 *)', scalarFromLoad(2, true), 'scalar(smin=smin32=-32768,smax=smax32=32767)'],
    ['*(s32 *)', scalarFromLoad(4, true), 'scalar(smin=0xffffffff80000000,smax=0x7fffffff)'],
    ['*(u16 *)', scalarFromLoad(2, false), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=0xffff,var_off=(0x0; 0xffff))'],
    ['*(u32 *)', scalarFromLoad(4, false), 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
    ['(s8)((r & 63) | 256)', scalarMovsx(scalarAlu(BPF_OR, true, scalarAlu(BPF_AND, true, x, K(63)), K(256)), 8, true), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=63,var_off=(0x0; 0x3f))'],
    ['(s8)(r & 0xf0f)', scalarMovsx(scalarAlu(BPF_AND, true, x, K(0xf0f)), 8, true), 'scalar(smin=smin32=-128,smax=smax32=127)'],
    ['(s16)(r & 0xf0f)', scalarMovsx(scalarAlu(BPF_AND, true, x, K(0xf0f)), 16, true), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=3855,var_off=(0x0; 0xfff))'],
    ['(s16 load) << 32', scalarAlu(BPF_LSH, true, scalarFromLoad(2, true), K(32)), 'scalar(smin=0xffff800000000000,smax=0x7fff00000000,umax=0xffffffff00000000,smin32=0,smax32=umax32=0,var_off=(0x0; 0xffffffff00000000))'],
  ];
  for (const [what, s, want] of cases) assert.equal(scalarFormat(s), want, what);
  // Constants print as signed decimals within s16, else as hex of the u64.
  const consts: [bigint, string][] = [[0n, '0'], [32767n, '32767'], [32768n, '0x8000'], [65535n, '0xffff'], [-5n, '-5'], [-32768n, '-32768'], [-32769n, '0xffffffffffff7fff'], [0xffff_ffffn, '0xffffffff']];
  for (const [v, want] of consts) assert.equal(scalarFormat(K(v)), want);
});

test('precision: conditional jumps refine and prune', () => {
  const u8 = unknownU8();
  // if r < 10: taken umax 9, fall-through umin 10.
  const lt = scalarBranch(BPF_JLT, false, u8, K(10));
  assert.equal(lt.taken![0].umax, 9n);
  assert.equal(lt.fallthrough![0].umin, 10n);
  // JMP32 bounds the subregister (and, here, the whole value).
  const lt32 = scalarBranch(BPF_JLT, true, scalarUnknown(), K(10));
  assert.equal(lt32.taken![0].u32max, 9);
  // Signed: if r s> 5 on [-3, 5] never holds.
  const sg = scalarBranch(BPF_JSGT, false, scalarSignedRange(-3n, 5n), K(5));
  assert.equal(sg.taken, null);
  assert.equal(sg.fallthrough![0].smin, -3n);
  // Equality with a constant gives the constant; a constant at a bound moves it.
  assert.equal(scalarConstValue(scalarBranch(BPF_JEQ, false, u8, K(42)).taken![0]), 42n);
  assert.equal(scalarBranch(BPF_JNE, false, u8, K(0)).taken![0].umin, 1n);
  assert.equal(scalarBranch(BPF_JNE, false, u8, K(255)).taken![0].umax, 254n);
  // JSET with a single bit: that bit known set on the taken edge; fall-through: all bits clear.
  const js = scalarBranch(BPF_JSET, false, u8, K(8));
  assert.equal(js.taken![0].var.value, 8n);
  assert.equal(js.fallthrough![0].var.mask, 0xf7n);
  // Impossible edges are null: by range, and by known bits (odd r never equals 2).
  assert.equal(scalarBranch(BPF_JGT, false, scalarRange(0n, 5n), K(10)).taken, null);
  const odd = scalarAlu(BPF_OR, true, scalarUnknown(), K(1));
  assert.equal(scalarBranch(BPF_JEQ, false, odd, K(2)).taken, null);
  assert.equal(scalarBranchTaken(BPF_JNE, false, odd, K(2)), 1);
  // Two registers: if r1 < r2 with r2 in [0, 10] bounds r1 by 9, r2 from r1's minimum.
  const two = scalarBranch(BPF_JLT, false, scalarRange(3n, 100n), scalarRange(0n, 10n));
  assert.equal(two.taken![0].umax, 9n);
  assert.equal(two.taken![1].umin, 4n);
  // Kernel golden: JSET fall-through forgets the ranges before narrowing the known bits.
  const r40 = scalarBranch(BPF_JGT, false, scalarUnknown(), K(40)).fallthrough![0];
  assert.equal(scalarFormat(scalarBranch(BPF_JSET, false, r40, K(1)).fallthrough![0]), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=62,var_off=(0x0; 0x3e))');
  assert.equal(scalarFormat(scalarBranch(BPF_JSET, false, r40, K(1)).taken![0]), 'scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=40,var_off=(0x1; 0x3e))');
  // Same register on both sides: one state refined through both operands (`if r s<= r`).
  const s8 = scalarFromLoad(1, true);
  const self = scalarBranch(BPF_JSLE, false, s8, s8, true);
  assert.equal(scalarFormat(self.fallthrough![0]), 'scalar(smin=smin32=-127,smax=smax32=126)');
  assert.equal(self.fallthrough![0], self.fallthrough![1]);
});

test('precision: the kernel path split for AND/OR on [-1, 0]', () => {
  const m = scalarAlu(BPF_ARSH, true, scalarUnknown(), K(63)); // [-1, 0]
  const f = scalarAluFork(BPF_AND, true, m, K(0x70));
  assert.ok(f);
  assert.equal(scalarConstValue(scalarAlu(BPF_AND, true, f[0], K(0x70))), 0x70n);
  assert.equal(scalarConstValue(scalarAlu(BPF_AND, true, f[1], K(0x70))), 0n);
  // s32 in [-1, 0] only (w s>>= 31): the subregister splits.
  const w = scalarAlu(BPF_ARSH, false, scalarUnknown(), K(31));
  const g = scalarAluFork(BPF_OR, true, w, K(0x100000000n));
  assert.ok(g);
  assert.equal(scalarConstValue(scalarAlu(BPF_OR, true, g[0], K(0x100000000n))), 0x1_ffff_ffffn);
  assert.equal(scalarAluFork(BPF_XOR, true, m, K(1)), undefined);
  assert.equal(scalarAluFork(BPF_AND, true, m, scalarUnknown()), undefined);
  assert.equal(scalarAluFork(BPF_AND, true, unknownU8(), K(1)), undefined);
});

test('subsumption (state pruning)', () => {
  const wide = scalarRange(0n, 100n), narrow = scalarRange(10n, 20n);
  assert.ok(scalarSubsumes(wide, narrow));
  assert.ok(!scalarSubsumes(narrow, wide));
  assert.ok(scalarSubsumes(scalarUnknown(), wide));
  assert.ok(!scalarSubsumes(wide, scalarUnknown()));
  // Same bounds, different known bits.
  assert.ok(!scalarSubsumes(scalarFromTnum({ value: 0n, mask: 0xfen }), scalarFromTnum({ value: 1n, mask: 0xfen })));
  assert.ok(scalarSubsumes(unknownU8(), K(7)));
});

// ---------------------------------------------------------------------------------------------
// Differential test against the kernel verifier
// ---------------------------------------------------------------------------------------------

const KERNEL_SEED = process.env.SECCOMP_EBPF_SEED ?? 'seccomp-ebpf-scalar-kernel-1';
const KERNEL_PROGRAMS = Number(process.env.SECCOMP_EBPF_SCALAR_PROGRAMS ?? 900);

/** A generated program and our expected register states along its checked path. */
interface Generated {
  insns: Insn[];
  /** insn index -> r0..r9 after it on the path (for a taken branch: at its target). */
  after: Map<number, Scalar[]>;
  taken: Map<number, Scalar[]>;
  /** 'accept': our path ends at a dead edge the kernel prunes too (kernel accepts); 'reject':
   *  the path reaches the faulting end; 'unchecked': the verdict depends on a path we do not
   *  follow (a path split or a contradictory refinement the kernel explores). */
  verdict: 'accept' | 'reject' | 'unchecked';
}

/**
 * A program: prologue (r6..r9 unknown from bpf_get_prandom_u32, r0 and r2..r5 constants or
 * loads from an array map value, r1 a copy of r6), then ALU, movsx, endian and conditional
 * jumps on r0..r9; every jump's other edge leaves through `r0 = 0; exit`. The end reads
 * the stack out of bounds, so the kernel rejects and logs the path. No reg-to-reg moves: they
 * would link registers (the kernel's scalar ids), which is the verifier's business.
 */
function generate(rng: Rng, mapFd: number, nOps: number, branchy: boolean): Generated {
  const regs: Scalar[] = [];
  const items: { insns: Insn[]; toExit?: boolean }[] = [];
  const after = new Map<number, Scalar[]>(), taken = new Map<number, Scalar[]>();
  let pc = 0;
  const emit = (x: Insn | Insn[], toExit = false): number => {
    const a = Array.isArray(x) ? x : [x];
    items.push({ insns: a, toExit });
    pc += a.length;
    return pc - a.length;
  };
  for (let r = 6; r <= 9; r++) { emit(I.call(7)); emit(I.mov64X(r, 0)); regs[r] = scalarUnknown(); }
  emit([insn(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_VALUE, 0, mapFd), insn(0)]);
  for (const r of [0, 2, 3, 4, 5]) {
    const k = rng.int(4);
    if (k === 0) { const v = interesting64(rng); emit(I.lddw(r, v)); regs[r] = K(v); }
    else if (k === 1) { const v = interesting32(rng); emit(I.mov64K(r, v)); regs[r] = K(v); }
    else {
      const sz = rng.pick(['b', 'h', 'w', 'dw'] as const), sx = sz !== 'dw' && rng.chance(0.4);
      emit(sx ? I.ldxsx(sz as 'b', r, 1, 8 * rng.int(4)) : I.ldx(sz, r, 1, 8 * rng.int(4)));
      regs[r] = scalarFromLoad(({ b: 1, h: 2, w: 4, dw: 8 } as const)[sz], sx);
    }
  }
  emit(I.mov64K(1, 0));
  emit(I.alu64X(BPF_ADD, 1, 6));
  regs[1] = scalarAlu(BPF_ADD, true, K(0), regs[6]!);
  let verdict: Generated['verdict'] = 'reject';
  let forked = false;
  const snap = (at: number, m = after): void => { m.set(at, regs.slice()); };
  for (let n = 0; n < nOps; n++) {
    const dst = rng.int(10), is64 = rng.chance(0.5);
    const k = branchy && rng.chance(0.5) ? 99 : rng.int(100);
    if (k < 45) {
      const op = rng.pick(ALU_OPS);
      const off = (op === BPF_DIV || op === BPF_MOD) && rng.chance(0.3) ? 1 : 0;
      const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
      let src: Scalar, at: number;
      if (rng.chance(0.5)) {
        let imm = shift ? rng.int(is64 ? 64 : 32) : rng.chance(0.3) ? rng.int(256) : interesting32(rng);
        if ((op === BPF_DIV || op === BPF_MOD) && imm === 0) imm = 3;
        if (op === BPF_AND && rng.chance(0.5)) imm = rng.pick([0xff, 0xffff, 0xf0, 7, 0x7fffffff, -8, 0x3c]);
        at = emit(is64 ? I.alu64K(op, dst, imm, off) : I.alu32K(op, dst, imm, off));
        src = K(imm);
      } else {
        const s = rng.int(10);
        at = emit(is64 ? I.alu64X(op, dst, s, off) : I.alu32X(op, dst, s, off));
        src = regs[s]!;
      }
      // The kernel follows dst = -1 first when it splits the path.
      const fork = scalarAluFork(op, is64, regs[dst]!, src);
      if (fork) forked = true;
      regs[dst] = scalarAlu(op, is64, fork ? fork[0] : regs[dst]!, src, off === 1);
      snap(at);
    } else if (k < 50) {
      const at = emit(is64 ? I.neg64(dst) : I.neg32(dst));
      regs[dst] = scalarAlu(BPF_NEG, is64, regs[dst]!, regs[dst]!);
      snap(at);
    } else if (k < 54) {
      const v = interesting32(rng);
      const at = emit(is64 ? I.mov64K(dst, v) : I.mov32K(dst, v));
      regs[dst] = scalarAlu(BPF_MOV, is64, regs[dst]!, K(v));
      snap(at);
    } else if (k < 60) {
      // Copy without linking registers: dst = 0; dst += src.
      const s = rng.int(10);
      emit(is64 ? I.mov64K(dst, 0) : I.mov32K(dst, 0));
      const at = emit(is64 ? I.alu64X(BPF_ADD, dst, s) : I.alu32X(BPF_ADD, dst, s));
      regs[dst] = scalarAlu(BPF_ADD, is64, K(0), s === dst ? K(0) : regs[s]!);
      snap(at);
    } else if (k < 66) {
      const bits = is64 ? rng.pick([8, 16, 32] as const) : rng.pick([8, 16] as const);
      const at = emit(is64 ? I.movsx64(dst, dst, bits) : I.movsx32(dst, dst, bits as 8 | 16));
      regs[dst] = scalarMovsx(regs[dst]!, bits, is64);
      snap(at);
    } else if (k < 68) {
      const at = emit(I.mov32X(dst, dst));
      regs[dst] = scalarAlu(BPF_MOV, false, regs[dst]!, regs[dst]!);
      snap(at);
    } else if (k < 73) {
      const kind = rng.pick(['le', 'be', 'bswap'] as const), bits = rng.pick([16, 32, 64] as const);
      const at = emit(I.end(kind, dst, bits));
      regs[dst] = scalarEndian(regs[dst]!, kind, bits);
      snap(at);
    } else {
      const op = rng.pick(JMP_OPS), is32 = rng.chance(0.4);
      let s: number | undefined, src: Scalar, ins: Insn;
      if (rng.chance(0.6)) {
        const c = regs[dst]!;
        const near = [c.umin, c.umax, c.smin, c.smax, BigInt(c.u32min), BigInt(c.u32max), BigInt(c.s32min), BigInt(c.s32max)];
        let imm = rng.chance(0.6) ? Number(BigInt.asIntN(32, rng.pick(near) + BigInt(rng.int(5) - 2))) : interesting32(rng);
        if (op === BPF_JSET && rng.chance(0.5)) imm = 1 << rng.int(31);
        src = K(imm);
        ins = is32 ? I.j32K(op, dst, imm, 0) : I.jK(op, dst, imm, 0);
      } else {
        s = rng.chance(0.1) ? dst : rng.int(10);
        src = regs[s]!;
        ins = is32 ? I.j32X(op, dst, s, 0) : I.jX(op, dst, s, 0);
      }
      const res = scalarBranch(op, is32, regs[dst]!, src, s === dst);
      const pred = scalarBranchTaken(op, is32, regs[dst]!, src);
      // Mostly follow a live edge; the kernel explores the fall-through first.
      let mainTaken = rng.chance(0.5);
      if ((mainTaken ? res.taken : res.fallthrough) === null && rng.chance(0.85)) mainTaken = !mainTaken;
      const edge = mainTaken ? res.taken : res.fallthrough;
      const at = pc;
      if (mainTaken) { ins.off = 2; emit(ins); emit(I.mov64K(0, 0)); emit(I.exit()); } else emit(ins, true);
      if (edge === null) {
        // Dead for the kernel too only if its is_branch_taken decides so.
        verdict = (mainTaken ? pred === 0 : pred === 1) ? 'accept' : 'unchecked';
        break;
      }
      if (s !== undefined && s !== dst) regs[s] = edge[1];
      regs[dst] = edge[0];
      snap(at, mainTaken ? taken : after);
    }
  }
  emit(I.ldx('dw', 0, 10, 8)); // out-of-bounds stack read: ends verification with the log
  const exitAt = pc;
  emit(I.mov64K(0, 0));
  emit(I.exit());
  let p = 0;
  for (const it of items) { if (it.toExit) it.insns[0]!.off = exitAt - p - 1; p += it.insns.length; }
  if (forked && verdict === 'accept') verdict = 'unchecked'; // the dst = 0 path may still fail
  return { insns: items.flatMap((x) => x.insns), after, taken, verdict };
}

/** "R0=1 R6=scalar(id=1,smin=..,var_off=(0x0; 0xff)) R10=fp0" -> register -> value (ids and precision marks dropped). */
function parseRegs(s: string): Map<number, string> {
  const out = new Map<number, string>();
  const re = /R(\d+)(?:_\w+)?=/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    let depth = 0, j = re.lastIndex;
    for (; j < s.length; j++) {
      const ch = s[j];
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (ch === ' ' && depth === 0) break;
    }
    out.set(Number(m[1]), s.slice(re.lastIndex, j).replace(/^P/, '').replace(/id=[^,()]*(,|(?=\)))/, ''));
    re.lastIndex = j;
  }
  return out;
}

/** Compares our states with the kernel's log; returns the differences (empty when equal). */
function compareWithKernel(g: Generated): string[] {
  let log = '';
  try {
    loadProgram(g.insns).close();
  } catch (e) {
    if (!(e instanceof ProgLoadError)) throw e;
    log = e.log;
  }
  if (g.verdict === 'unchecked' && !log) return [];
  if (!log) return g.verdict === 'accept' ? [] : ['the kernel accepted; expected the path to reach the faulting end'];
  if (g.verdict === 'accept') return [`the kernel rejected; our path ends at a dead edge\n${log}`];
  const diffs: string[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d+): \([0-9a-f]{2}\) ([^;]*?)(?:\s+; (.*))?$/.exec(line);
    if (!m) continue;
    const idx = Number(m[1]);
    // "if ... goto pc+N T: R0=..." is the state at the target T of a taken jump.
    const t = /goto pc[+-]\d+\s+\d+: (R.*)$/.exec(m[2]!);
    const states = t ? t[1] : m[3];
    const ours = (t ? g.taken : g.after).get(idx);
    if (!states || !ours) continue;
    for (const [r, v] of parseRegs(states)) {
      if (r > 9 || !/^(-?\d|0x|scalar\()/.test(v)) continue;
      const mine = scalarFormat(ours[r]!);
      if (mine !== v) diffs.push(`insn ${idx}${t ? ' (taken)' : ''} R${r}:\n  kernel ${v}\n  ours   ${mine}`);
    }
  }
  return diffs;
}

test('differential: register states equal the Linux verifier log on generated programs', (t) => {
  const reason = bpfUnavailableReason();
  if (reason !== undefined) { t.skip(reason); return; }
  let map: KernelMap;
  try {
    map = createMap(BPF_MAP_TYPE_ARRAY, 4, 64, 1);
  } catch (e) {
    t.skip(`cannot create an array map: ${(e as Error).message}`);
    return;
  }
  try {
    const verdicts: Record<string, number> = {};
    let compared = 0;
    for (let i = 0; i < KERNEL_PROGRAMS; i++) {
      const seed = `${KERNEL_SEED}/${i}`;
      const branchy = i % 3 === 2;
      const g = generate(new Rng(seed), map.fd, branchy ? 50 : 30, branchy);
      verdicts[g.verdict] = (verdicts[g.verdict] ?? 0) + 1;
      compared += g.after.size + g.taken.size;
      const diffs = compareWithKernel(g);
      if (diffs.length) {
        assert.fail(`program ${seed} (SECCOMP_EBPF_SEED=${KERNEL_SEED}):\n${diffs.slice(0, 4).join('\n')}\n--- program\n${disassemble(g.insns)}`);
      }
    }
    // The generator reached both kinds of ending and compared many states.
    assert.ok((verdicts.reject ?? 0) > KERNEL_PROGRAMS / 4 && (verdicts.accept ?? 0) > 0, JSON.stringify(verdicts));
    assert.ok(compared > KERNEL_PROGRAMS * 10, `only ${compared} states compared`);
  } finally {
    map.close();
  }
});

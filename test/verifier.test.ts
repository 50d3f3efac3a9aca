/**
 * Tests of the verifier core (src/ebpf/verifier/verifier.ts): spec.md section 8 behaviours 1-9
 * (context access), tables of accepted and rejected programs, the clang-built examples, the
 * log, and — where bpf(2) is usable — agreement with the kernel's own verifier on programs that
 * do not touch the context (loaded as socket filters).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { assemble } from '../src/ebpf/asm.js';
import { parseBpfObject, findProgram } from '../src/ebpf/elf/index.js';
import { verify } from '../src/ebpf/verifier/verifier.js';
import { VerifierError } from '../src/ebpf/verifier/errors.js';
import { HELPER_PROTOS } from '../src/ebpf/verifier/protos.js';
import type { VerifierOptions } from '../src/ebpf/verifier/types.js';
import type { MapSpec } from '../src/ebpf/maps/types.js';
import type { Insn } from '../src/ebpf/insn.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_TASK_STORAGE } from '../src/abi/bpf.js';

const MAPS: MapSpec[] = [
  { name: 'arr', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 4, flags: 0 },
  { name: 'hash', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 },
  { name: 'rb', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 },
  { name: '.bss', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0 },
  { name: '.rodata', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0x80, readOnly: true,
    initialValue: Uint8Array.from([6, 0, 0, 0, 0, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0, 0, 0]) },
  { name: 'store', type: BPF_MAP_TYPE_TASK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: 1 },
];

/** Loader kinds: root (CAP_BPF + CAP_PERFMON), CAP_BPF only, unprivileged. */
const ROOT = { bpfCapable: true, allowPtrLeaks: true };
const BPF_ONLY = { bpfCapable: true, allowPtrLeaks: false };
const UNPRIV = { bpfCapable: false, allowPtrLeaks: false };

function opts(extra: Partial<VerifierOptions> = {}): VerifierOptions {
  return { maps: MAPS, license: 'GPL', helpers: HELPER_PROTOS, ...UNPRIV, restricted: false, ...extra };
}

/** Verifies; returns 'OK' or the error code. */
function verdict(src: string | Insn[], extra: Partial<VerifierOptions> = {}): string {
  try {
    verify(typeof src === 'string' ? assemble(src) : src, opts(extra));
    return 'OK';
  } catch (e) {
    if (e instanceof VerifierError) return e.code;
    throw e;
  }
}

function rejection(src: string, extra: Partial<VerifierOptions> = {}): VerifierError {
  try {
    verify(assemble(src), opts(extra));
  } catch (e) {
    if (e instanceof VerifierError) return e;
    throw e;
  }
  assert.fail('program was accepted');
}

const ctxRead = (size: number, off: number): string =>
  `r0 = *(u${size * 8} *)(r1 ${off < 0 ? '-' : '+'} ${Math.abs(off)})\nr0 = 0\nexit`;

// ---------------------------------------------------------------------------------------------
// spec.md section 8, behaviours 1-9: context access
// ---------------------------------------------------------------------------------------------

test('behaviour 1: 4-byte read of nr (ctx+0) is accepted', () => {
  assert.equal(verdict('r0 = *(u32 *)(r1 + 0)\nexit'), 'OK');
});

test('behaviour 2: 4-byte read of arch (ctx+4) accepted; 8-byte reads at ctx+0 or ctx+4 rejected', () => {
  assert.equal(verdict(ctxRead(4, 4)), 'OK');
  assert.equal(verdict(ctxRead(8, 0)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(8, 4)), 'ERR_VERIFY_CTX_ACCESS');
});

test('behaviour 3: 8-byte read of instruction_pointer accepted; 4-byte reads at ctx+8 / ctx+12 rejected', () => {
  assert.equal(verdict(ctxRead(8, 8)), 'OK');
  assert.equal(verdict(ctxRead(4, 8)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(4, 12)), 'ERR_VERIFY_CTX_ACCESS');
});

test('behaviour 4: 8-byte reads of args[0..5] (ctx+16+8i) are accepted', () => {
  for (let i = 0; i < 6; i++) assert.equal(verdict(ctxRead(8, 16 + 8 * i)), 'OK', `args[${i}]`);
});

test('behaviour 5: 4-byte reads of the halves of args[0] (ctx+16, ctx+20) are rejected', () => {
  const e = rejection(ctxRead(4, 20));
  assert.equal(e.code, 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(e.rule, 'invalid bpf_context access off=20 size=4');
  assert.equal(e.location?.insn, 0);
  assert.equal(e.state, 'R1=ctx() R10=fp0');
  assert.equal(verdict(ctxRead(4, 16)), 'ERR_VERIFY_CTX_ACCESS');
});

test('behaviour 6: 1- and 2-byte reads anywhere in the context are rejected', () => {
  for (let off = 0; off < 64; off++) {
    assert.equal(verdict(ctxRead(1, off)), 'ERR_VERIFY_CTX_ACCESS', `1@${off}`);
    if (off % 2 === 0) assert.equal(verdict(ctxRead(2, off)), 'ERR_VERIFY_CTX_ACCESS', `2@${off}`);
  }
});

test('behaviour 7: reads past the end of seccomp_data (off + size > 64) are rejected', () => {
  assert.equal(verdict(ctxRead(8, 64)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(4, 64)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(8, 60)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(4, -4)), 'ERR_VERIFY_CTX_ACCESS');
});

test('behaviour 8: misaligned reads (8 bytes at ctx+12, 4 bytes at ctx+2) are rejected', () => {
  assert.equal(verdict(ctxRead(8, 12)), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict(ctxRead(4, 2)), 'ERR_VERIFY_CTX_ACCESS');
});

test('behaviour 9: any store or atomic into the context is rejected', () => {
  for (const loader of [UNPRIV, ROOT]) {
    assert.equal(verdict('*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit', loader), 'ERR_VERIFY_CTX_ACCESS', 'st');
    assert.equal(verdict('r2 = 1\n*(u64 *)(r1 + 16) = r2\nr0 = 0\nexit', loader), 'ERR_VERIFY_CTX_ACCESS', 'stx');
    assert.equal(verdict('r2 = 1\nlock *(u64 *)(r1 + 16) += r2\nr0 = 0\nexit', loader), 'ERR_VERIFY_CTX_ACCESS', 'atomic');
    assert.equal(verdict('r2 = 1\nr2 = atomic_fetch_add((u64 *)(r1 + 16), r2)\nr0 = 0\nexit', loader), 'ERR_VERIFY_CTX_ACCESS', 'fetch');
  }
  // Storing a pointer into the context is a leak first for unprivileged loaders.
  assert.equal(verdict('*(u64 *)(r1 + 16) = r10\nr0 = 0\nexit'), 'ERR_VERIFY_PTR_LEAK');
});

test('a context pointer must be unmodified when dereferenced', () => {
  assert.equal(verdict('r1 += 16\nr0 = *(u64 *)(r1 + 0)\nexit', ROOT), 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(verdict('r6 = r1\nr0 = *(u64 *)(r6 + 24)\nexit'), 'OK');
});

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

const LOOKUP = (map: number, key: number): string => `r1 = map[${map}] ll
r2 = r10
r2 += -8
*(u32 *)(r10 - 8) = ${key}
call 1
`;

interface Case { name: string; src: string; loader?: object; extra?: Partial<VerifierOptions>; want: string }

const CASES: Case[] = [
  // Registers and stack.
  { name: 'uninitialised register read', src: 'r0 = r2\nexit', want: 'ERR_VERIFY_UNINIT_REG' },
  { name: 'exit without r0', src: 'exit', want: 'ERR_VERIFY_RETURN' },
  { name: 'r1-r5 are gone after a call', src: 'call 7\nr0 = r1\nexit', want: 'ERR_VERIFY_UNINIT_REG' },
  { name: 'write to r10', src: 'r10 = 0\nr0 = 0\nexit', want: 'ERR_VERIFY_INSN' },
  { name: 'uninitialised stack read', src: 'r0 = *(u64 *)(r10 - 8)\nexit', want: 'ERR_VERIFY_UNINIT_STACK' },
  { name: 'partly initialised stack read', src: '*(u32 *)(r10 - 8) = 1\nr0 = *(u64 *)(r10 - 8)\nexit', want: 'ERR_VERIFY_UNINIT_STACK' },
  { name: 'uninitialised stack read, CAP_PERFMON', src: 'r0 = *(u64 *)(r10 - 8)\nexit', loader: ROOT, want: 'OK' },
  { name: 'stack store and load', src: '*(u64 *)(r10 - 8) = 7\nr0 = *(u64 *)(r10 - 8)\nexit', want: 'OK' },
  { name: 'stack below -512', src: '*(u64 *)(r10 - 520) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'stack at fp+0', src: '*(u64 *)(r10 + 0) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'misaligned stack access', src: '*(u32 *)(r10 - 6) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'spilled pointer survives the stack', src: '*(u64 *)(r10 - 8) = r1\nr2 = *(u64 *)(r10 - 8)\nr0 = *(u32 *)(r2 + 0)\nexit', want: 'OK' },
  { name: 'partial fill of a spilled pointer', src: '*(u64 *)(r10 - 8) = r10\nr0 = *(u32 *)(r10 - 8)\nexit', loader: ROOT, want: 'ERR_VERIFY_MEM_TYPE' },
  { name: 'corrupting a spilled pointer', src: '*(u64 *)(r10 - 8) = r10\n*(u32 *)(r10 - 8) = 0\nr0 = 0\nexit', want: 'ERR_VERIFY_PTR_LEAK' },
  { name: 'load through a scalar', src: 'r1 = 0\nr0 = *(u64 *)(r1 + 0)\nexit', want: 'ERR_VERIFY_MEM_TYPE' },
  // Maps.
  { name: 'lookup without NULL check', src: `${LOOKUP(1, 0)}r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, want: 'ERR_VERIFY_NULL_DEREF' },
  { name: 'lookup with NULL check', src: `${LOOKUP(1, 0)}if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, want: 'OK' },
  { name: 'NULL check on a copy', src: `${LOOKUP(1, 0)}r6 = r0\nif r0 == 0 goto +1\nr0 = *(u64 *)(r6 + 0)\nr0 = 0\nexit`, want: 'OK' },
  { name: 'array lookup with constant key in range (no NULL check needed, CAP_BPF)', src: `${LOOKUP(0, 3)}r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, loader: BPF_ONLY, want: 'OK' },
  { name: 'array lookup with constant key out of range', src: `${LOOKUP(0, 4)}r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, loader: BPF_ONLY, want: 'ERR_VERIFY_NULL_DEREF' },
  { name: 'map value out of bounds', src: `${LOOKUP(1, 0)}if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 4)\nr0 = 0\nexit`, want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'bounded variable index into a map value', src: `${LOOKUP(0, 0)}if r0 == 0 goto +4
r1 = *(u32 *)(r0 + 0)
if r1 > 12 goto +2
r0 += r1
r0 = *(u32 *)(r0 + 0)
r0 = 0
exit`, want: 'OK' },
  { name: 'variable index one past the end', src: `${LOOKUP(0, 0)}if r0 == 0 goto +5
r1 = *(u32 *)(r0 + 0)
if r1 > 13 goto +3
r0 += r1
r0 = *(u32 *)(r0 + 0)
r0 = 0
exit`, loader: ROOT, want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'bounds check on a linked copy', src: `${LOOKUP(0, 0)}if r0 == 0 goto +5
r1 = *(u32 *)(r0 + 0)
r2 = r1
if r2 > 12 goto +2
r0 += r1
r0 = *(u32 *)(r0 + 0)
r0 = 0
exit`, want: 'OK' },
  { name: 'bounds check on a copy made before the value was known', src: `${LOOKUP(1, 0)}if r0 == 0 goto +6
r1 = *(u32 *)(r0 + 0)
r2 = r1
r2 += 0
if r2 > 12 goto +2
r0 += r1
r0 = *(u32 *)(r0 + 0)
r0 = 0
exit`, loader: ROOT, want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'global read (.bss)', src: 'r1 = map_value[3] + 8 ll\nr0 = *(u64 *)(r1 + 0)\nexit', want: 'OK' },
  { name: 'global write out of bounds', src: 'r1 = map_value[3] + 8 ll\n*(u64 *)(r1 + 4) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: '.rodata write', src: 'r1 = map_value[4] ll\n*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_MAP_ACCESS' },
  { name: '.rodata constant bounds a loop-free index', src: `r1 = map_value[4] ll
r2 = *(u32 *)(r1 + 0)
r3 = map_value[3] ll
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit`, loader: ROOT, want: 'OK' },
  { name: 'restricted mode: global read', src: 'r1 = map_value[3] ll\nr0 = *(u64 *)(r1 + 0)\nexit', extra: { restricted: true }, want: 'ERR_VERIFY_MAP_ACCESS' },
  { name: 'restricted mode: global write', src: 'r1 = map_value[3] ll\n*(u64 *)(r1 + 0) = 1\nr0 = 0\nexit', extra: { restricted: true }, want: 'ERR_VERIFY_MAP_ACCESS' },
  { name: 'restricted mode: any helper', src: 'call 14\nr0 = 0\nexit', extra: { restricted: true }, want: 'ERR_VERIFY_HELPER_UNKNOWN' },
  { name: 'restricted mode: ctx, ALU, jumps, stack', src: `r2 = *(u32 *)(r1 + 0)
*(u64 *)(r10 - 8) = r2
r3 = *(u64 *)(r10 - 8)
r0 = 0x7fff0000
if r3 != 39 goto +1
r0 = 0x50001
exit`, extra: { restricted: true }, want: 'OK' },
  { name: 'atomic add on a global', src: 'r1 = map_value[3] ll\nr2 = 1\nlock *(u64 *)(r1 + 0) += r2\nr0 = 0\nexit', want: 'OK' },
  { name: 'misaligned atomic on a map value', src: 'r1 = map_value[3] ll\nr2 = 1\nlock *(u64 *)(r1 + 4) += r2\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  // Pointer arithmetic and leaks.
  { name: 'pointer - pointer (unprivileged)', src: 'r0 = r10\nr0 -= r10\nexit', want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'pointer - pointer (CAP_PERFMON)', src: 'r0 = r10\nr0 -= r10\nexit', loader: ROOT, want: 'OK' },
  { name: 'bitwise op on a pointer', src: 'r0 = r10\nr0 &= 4\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'multiplying a pointer', src: 'r0 = r10\nr0 *= 4\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: '32-bit pointer arithmetic', src: 'r0 = r10\nw0 += 4\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'subtraction from the frame pointer', src: 'r1 = r10\nr1 -= 8\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'arithmetic on a map handle', src: 'r1 = map[0] ll\nr1 += 8\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'arithmetic on a pointer that may be NULL', src: `${LOOKUP(1, 0)}r0 += 8\nr0 = 0\nexit`, loader: ROOT, want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'stack pointer out of the frame (unprivileged)', src: 'r1 = r10\nr1 += 8\nr0 = 0\nexit', want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'returning a pointer (unprivileged)', src: 'r0 = r10\nexit', want: 'ERR_VERIFY_RETURN' },
  { name: 'returning a pointer (CAP_PERFMON)', src: 'r0 = r10\nexit', loader: ROOT, want: 'OK' },
  { name: 'pointer into a map value (unprivileged)', src: `${LOOKUP(1, 0)}if r0 == 0 goto +1\n*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit`, want: 'ERR_VERIFY_PTR_LEAK' },
  { name: 'pointer comparison (unprivileged)', src: 'r0 = r10\nif r0 > 4 goto +0\nr0 = 0\nexit', want: 'ERR_VERIFY_PTR_ARITH' },
  { name: 'pointer comparison (CAP_PERFMON)', src: 'r0 = r10\nif r0 > 4 goto +0\nr0 = 0\nexit', loader: ROOT, want: 'OK' },
  { name: 'partial copy of a pointer', src: 'w0 = w10\nr0 = 0\nexit', want: 'ERR_VERIFY_PTR_LEAK' },
  { name: 'pointer as a helper scalar argument', src: 'r1 = r10\nr1 += -8\n*(u64 *)(r10 - 8) = 0\nr2 = 8\nr3 = r10\ncall 112\nr0 = 0\nexit', want: 'ERR_VERIFY_PTR_LEAK' },
  // Helpers.
  { name: 'unknown helper', src: 'call 9999\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_UNKNOWN' },
  { name: 'helper missing from the table', src: 'call 14\nr0 = 0\nexit', extra: { helpers: new Map() }, want: 'ERR_VERIFY_HELPER_UNKNOWN' },
  { name: 'kfunc call', src: 'call kfunc[123]\nr0 = 0\nexit', loader: ROOT, want: 'ERR_VERIFY_HELPER_UNKNOWN' },
  { name: 'map helper without a map', src: 'call 1\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'uninitialised key', src: 'r1 = map[1] ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit', want: 'ERR_VERIFY_UNINIT_STACK' },
  { name: 'lookup on a ring buffer', src: `${LOOKUP(2, 0)}r0 = 0\nexit`, want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'map update with key and value on the stack', src: `*(u32 *)(r10 - 4) = 1
*(u64 *)(r10 - 16) = 1
r1 = map[1] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call 2
r0 = 0
exit`, want: 'OK' },
  { name: 'output buffer of a helper needs no initialisation', src: 'r1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\ncall 112\nr0 = *(u64 *)(r10 - 16)\nexit', want: 'OK' },
  { name: 'output buffer larger than the stack', src: 'r1 = r10\nr1 += -16\nr2 = 24\nr3 = 0\ncall 112\nr0 = 0\nexit', want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'unbounded size argument', src: 'r2 = *(u32 *)(r1 + 0)\nr1 = r10\nr1 += -16\nr3 = 0\ncall 112\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'size argument with negative minimum', src: 'r2 = *(u64 *)(r1 + 16)\nr1 = r10\nr1 += -16\nr3 = 0\ncall 112\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'variable size: the buffer must be initialised', src: 'r2 = *(u64 *)(r1 + 16)\nr2 &= 15\nr1 = r10\nr1 += -16\nr3 = 0\ncall 112\nr0 = 0\nexit', want: 'ERR_VERIFY_UNINIT_STACK' },
  { name: 'variable size into an initialised buffer', src: '*(u64 *)(r10 - 16) = 0\n*(u64 *)(r10 - 8) = 0\nr2 = *(u64 *)(r1 + 16)\nr2 &= 15\nr1 = r10\nr1 += -16\nr3 = 0\ncall 112\nr0 = 0\nexit', want: 'OK' },
  { name: 'GPL-only helper from a non-GPL program', src: 'r1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\ncall 112\nr0 = 0\nexit', extra: { license: 'MIT' }, want: 'ERR_VERIFY_GPL' },
  { name: 'GPL-only helper from a Dual BSD/GPL program', src: 'r1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\ncall 112\nr0 = 0\nexit', extra: { license: 'Dual BSD/GPL' }, want: 'OK' },
  { name: 'task storage with a NULL task (behaviour 16)', src: 'r1 = map[5] ll\nr2 = 0\nr3 = 0\nr4 = 1\ncall 156\nif r0 == 0 goto +1\n*(u64 *)(r0 + 0) = 1\nr0 = 0\nexit', want: 'OK' },
  { name: 'task storage with a non-zero scalar task (behaviour 16)', src: 'r1 = map[5] ll\nr2 = 1\nr3 = 0\nr4 = 1\ncall 156\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'task storage with a BTF task pointer (behaviour 17)', src: 'call 158\nr2 = r0\nr1 = map[5] ll\nr3 = 0\nr4 = 1\ncall 156\nr0 = 0\nexit', loader: ROOT, want: 'OK' },
  { name: 'task storage value used without a NULL check', src: 'r1 = map[5] ll\nr2 = 0\nr3 = 0\nr4 = 1\ncall 156\n*(u64 *)(r0 + 0) = 1\nr0 = 0\nexit', want: 'ERR_VERIFY_NULL_DEREF' },
  { name: 'task storage helper on a hash map', src: 'r1 = map[1] ll\nr2 = 0\nr3 = 0\nr4 = 1\ncall 156\nr0 = 0\nexit', want: 'ERR_VERIFY_HELPER_ARG' },
  { name: 'task_storage_delete with NULL', src: 'r1 = map[5] ll\nr2 = 0\ncall 157\nr0 = 0\nexit', want: 'OK' },
  // Ring buffer.
  { name: 'ring buffer record not submitted', src: `r1 = map[2] ll
r2 = 8
r3 = 0
call 131
if r0 == 0 goto +1
*(u64 *)(r0 + 0) = 1
r0 = 0
exit`, want: 'ERR_VERIFY_REF_LEAK' },
  { name: 'ring buffer record submitted on every path', src: `r1 = map[2] ll
r2 = 16
r3 = 0
call 131
r6 = r0
if r6 == 0 goto +11
*(u64 *)(r6 + 8) = 1
r7 = *(u32 *)(r6 + 0)
if r7 > 5 goto +4
r1 = r6
r2 = 0
call 132
goto +3
r1 = r6
r2 = 0
call 133
r0 = 0
exit`, want: 'OK' },
  { name: 'ring buffer record submitted on one path only', src: `r1 = map[2] ll
r2 = 16
r3 = 0
call 131
r6 = r0
if r6 == 0 goto +6
r7 = *(u32 *)(r6 + 0)
if r7 > 5 goto +3
r1 = r6
r2 = 0
call 132
r0 = 0
exit`, want: 'ERR_VERIFY_REF_LEAK' },
  { name: 'ring buffer record used after submit', src: `r1 = map[2] ll
r2 = 16
r3 = 0
call 131
r6 = r0
if r6 == 0 goto +4
r1 = r6
r2 = 0
call 132
*(u64 *)(r6 + 0) = 1
r0 = 0
exit`, want: 'ERR_VERIFY_UNINIT_REG' },
  { name: 'ring buffer record out of bounds', src: `r1 = map[2] ll
r2 = 16
r3 = 0
call 131
if r0 == 0 goto +4
*(u64 *)(r0 + 12) = 1
r1 = r0
r2 = 0
call 132
r0 = 0
exit`, want: 'ERR_VERIFY_MEM_BOUNDS' },
  { name: 'ring buffer reserve of a variable size', src: `r2 = *(u64 *)(r1 + 16)
r1 = map[2] ll
r3 = 0
call 131
r0 = 0
exit`, loader: ROOT, want: 'ERR_VERIFY_HELPER_ARG' },
  // Control flow.
  { name: 'unreachable instruction', src: 'r0 = 0\nexit\nr0 = 1\nexit', want: 'ERR_VERIFY_UNREACHABLE' },
  { name: 'jump out of range', src: 'r0 = 0\ngoto +5\nexit', want: 'ERR_VERIFY_CFG' },
  { name: 'falls off the end', src: 'r0 = 0\nif r0 == 0 goto +0', want: 'ERR_VERIFY_CFG' },
  { name: 'back-edge without CAP_BPF', src: 'r1 = 0\nr1 += 1\nif r1 < 6 goto -2\nr0 = r1\nexit', want: 'ERR_VERIFY_CFG' },
  { name: 'bounded loop with CAP_BPF', src: 'r1 = 0\nr1 += 1\nif r1 < 6 goto -2\nr0 = r1\nexit', loader: ROOT, want: 'OK' },
  { name: 'infinite loop', src: 'r0 = 0\nif r0 == 0 goto -2\nexit', loader: ROOT, want: 'ERR_VERIFY_INFINITE_LOOP' },
  { name: 'bpf-to-bpf call without CAP_BPF', src: 'call pc+2\nr0 = 0\nexit\nr0 = 1\nexit', want: 'ERR_VERIFY_CFG' },
  { name: 'bpf-to-bpf call with a stack argument', src: `*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
call pc+2
r0 = 0
exit
r0 = *(u64 *)(r1 + 0)
*(u64 *)(r1 + 0) = r0
r0 = 0
exit`, loader: ROOT, want: 'OK' },
  { name: 'returning a stack pointer to the caller', src: 'call pc+2\nr0 = 0\nexit\nr0 = r10\nexit', loader: ROOT, want: 'ERR_VERIFY_RETURN' },
  { name: 'LD_ABS is not for seccomp programs', src: 'r6 = r1\nr0 = *(u8 *)skb[0]\nexit', loader: ROOT, want: 'ERR_VERIFY_INSN' },
];

for (const c of CASES) {
  test(`table: ${c.name}`, () => {
    assert.equal(verdict(c.src, { ...(c.loader ?? UNPRIV), ...c.extra }), c.want);
  });
}

test('r6-r9 survive a bpf-to-bpf call and r0 comes back', () => {
  assert.equal(verdict('r6 = 7\ncall pc+2\nr0 += r6\nexit\nr0 = 1\nexit', ROOT), 'OK');
  assert.equal(verdict('r2 = 7\ncall pc+2\nr0 = r2\nexit\nr0 = 1\nexit', ROOT), 'ERR_VERIFY_UNINIT_REG');
  assert.equal(verdict('call pc+2\nr0 += 1\nexit\nexit', ROOT), 'ERR_VERIFY_UNINIT_REG');
});

test('call depth and combined stack size of nested calls', () => {
  const chain = (n: number, depth: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += `*(u64 *)(r10 - ${depth}) = 0\ncall pc+2\nr0 = 0\nexit\n`;
    return `${s}r0 = 0\nexit`;
  };
  assert.equal(verdict(chain(7, 64), ROOT), 'OK');
  assert.equal(verdict(chain(8, 8), ROOT), 'ERR_VERIFY_STACK');
  const e = rejection(chain(4, 160), ROOT);
  assert.equal(e.code, 'ERR_VERIFY_STACK');
  assert.equal(e.rule, 'combined stack size of 4 calls is 640. Too large');
  assert.equal(verdict(chain(3, 160), ROOT), 'OK');
});

test('an unbounded loop exhausts the 1M processed-instruction budget', () => {
  const e = rejection('r0 = *(u64 *)(r1 + 16)\nr1 = 0\nr1 += 1\nif r1 != r0 goto -2\nr0 = 0\nexit', ROOT);
  assert.equal(e.code, 'ERR_VERIFY_TOO_COMPLEX');
  assert.match(e.rule, /^BPF program is too large\. Processed 1000001 insn$/);
});

test('bounded loop over the syscall arguments (CAP_BPF), rejected without', () => {
  // Arguments copied to a global array by straight-line code, then a loop over them with a
  // variable index: for (i = 0; i < 6; i++) if (args[i] == 42) r0 = ERRNO.
  let src = 'r6 = map_value[3] ll\nr7 = map_value[0] ll\n';
  void src;
  const maps: MapSpec[] = [{ name: '.bss', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 48, maxEntries: 1, flags: 0 }];
  src = 'r6 = map_value[0] ll\n';
  for (let i = 0; i < 6; i++) src += `r2 = *(u64 *)(r1 + ${16 + 8 * i})\n*(u64 *)(r6 + ${8 * i}) = r2\n`;
  src += `r0 = 0x7fff0000
r3 = 0
loop: r4 = r3
r4 <<= 3
r5 = r6
r5 += r4
r2 = *(u64 *)(r5 + 0)
if r2 != 42 goto +1
r0 = 0x50001
r3 += 1
if r3 < 6 goto loop
exit`;
  assert.equal(verdict(src, { ...ROOT, maps }), 'OK');
  assert.equal(verdict(src, { ...UNPRIV, maps }), 'ERR_VERIFY_CFG');
});

test('program size limits: 4096 instructions without CAP_BPF', () => {
  const body = `${'r0 = 0\n'.repeat(4096)}exit`;
  assert.equal(verdict(body, UNPRIV), 'ERR_VERIFY_TOO_LARGE');
  assert.equal(verdict(body, ROOT), 'OK');
});

test('bad input gives an error, never a crash', () => {
  assert.equal(verdict([]), 'ERR_VERIFY_CFG');
  assert.equal(verdict([{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }]), 'ERR_VERIFY_INSN');
  assert.equal(verdict('r1 = map[9] ll\nr0 = 0\nexit'), 'ERR_VERIFY_INSN');
  assert.equal(verdict('r1 = map_value[1] ll\nr0 = 0\nexit'), 'ERR_VERIFY_INSN');
  assert.throws(() => verify(assemble('r0 = 0\nexit'), { ...opts(), helpers: {} as never }), /ERR_VERIFY_OPTIONS|helpers must be a Map/);
});

// ---------------------------------------------------------------------------------------------
// Errors and the log
// ---------------------------------------------------------------------------------------------

test('a rejection carries the instruction, the rule, the state and the failing path (log level 1)', () => {
  const src = `r2 = *(u32 *)(r1 + 0)
if r2 == 39 goto +2
r0 = 0
exit
r0 = *(u32 *)(r1 + 20)
exit`;
  const e = rejection(src, { logLevel: 1 });
  assert.ok(e instanceof VerifierError);
  assert.equal(e.code, 'ERR_VERIFY_CTX_ACCESS');
  assert.equal(e.location?.insn, 4);
  assert.equal(e.rule, 'invalid bpf_context access off=20 size=4');
  assert.match(e.state, /^R1=ctx\(\) R2=39 R10=fp0$/);
  const lines = e.log.trim().split('\n');
  assert.equal(lines[0], '0: R1=ctx() R10=fp0');
  assert.match(lines[1]!, /^0: \(61\) r2 = \*\(u32 \*\)\(r1 \+ 0\) +; R2=scalar\(smin=0,smax=umax=0xffffffff,var_off=\(0x0; 0xffffffff\)\)$/);
  assert.ok(lines.some((l) => l.startsWith('1: (15) if r2 == 39 goto +2')), e.log);
  // Only the failing path: the fall-through (insns 2, 3) is not in it.
  assert.ok(!lines.some((l) => l.startsWith('2: ')), e.log);
  assert.equal(lines.at(-3), '4: (61) r0 = *(u32 *)(r1 + 20)');
  assert.equal(lines.at(-2), 'invalid bpf_context access off=20 size=4');
  assert.match(lines.at(-1)!, /^processed \d+ insns \(limit 1000000\) max_states_per_insn \d+ total_states \d+ peak_states \d+ mark_read 0$/);
});

test('log level 2 shows every processed instruction, level 0 none', () => {
  const src = 'r2 = *(u32 *)(r1 + 0)\nr0 = 0\nif r2 == 39 goto +1\nr0 = 1\nexit';
  const two = verify(assemble(src), opts({ logLevel: 2 }));
  assert.match(two.log, /^0: R1=ctx\(\) R10=fp0\n0: \(61\)/);
  assert.match(two.log, /\nfrom 2 to 4: R0=0 R1=ctx\(\) R2=39 R10=fp0\n/);
  assert.equal(two.log.split('\n').filter((l) => /^4: \(95\) exit/.test(l)).length, 2);
  const zero = verify(assemble(src), opts());
  assert.equal(zero.log, '');
  assert.equal(zero.stats.insnsProcessed, two.stats.insnsProcessed);
});

// ---------------------------------------------------------------------------------------------
// Examples and performance
// ---------------------------------------------------------------------------------------------

test('every example object is accepted, for root and for an unprivileged loader', () => {
  const files = readdirSync('examples').filter((f) => f.endsWith('.bpf.o')).map((f) => `examples/${f}`);
  files.push('policies/default.bpf.o');
  assert.ok(files.length >= 7);
  for (const file of files) {
    const spec = parseBpfObject(new Uint8Array(readFileSync(file)), { file });
    const prog = findProgram(spec);
    for (const loader of [ROOT, UNPRIV]) {
      const r = verify(prog.insns, { ...opts(loader), maps: spec.maps, license: spec.license, file });
      assert.ok(r.stats.insnsProcessed >= prog.insns.length / 2, file);
    }
  }
});

/**
 * A 4096-instruction filter shaped like a big seccomp policy: a dispatch on nr where every case
 * loads an argument, masks it, spills it to the stack, checks it and returns.
 */
export function bigFilter(n = 4096): Insn[] {
  const lines = ['r6 = r1', 'r7 = *(u32 *)(r6 + 0)', 'r0 = 0x7fff0000'];
  for (let k = 0; lines.length < n - 10; k++) {
    const slot = 8 + 8 * (k % 8);
    lines.push(`if r7 != ${k} goto +8`, `r2 = *(u64 *)(r6 + ${16 + 8 * (k % 6)})`, 'r2 &= 0xffff', `*(u64 *)(r10 - ${slot}) = r2`,
      `r3 = *(u64 *)(r10 - ${slot})`, `if r3 > ${k * 3} goto +1`, 'exit', `r0 = ${0x50000 + (k & 0xfff)}`, 'exit');
  }
  while (lines.length < n - 1) lines.push('r0 = 0x7fff0000');
  lines.push('exit');
  return assemble(lines.join('\n'));
}

test('timing: a 4096-instruction program verifies well under a second', (t) => {
  const insns = bigFilter();
  assert.equal(insns.length, 4096);
  const t0 = performance.now();
  const r = verify(insns, opts(UNPRIV));
  const ms = performance.now() - t0;
  t.diagnostic(`4096 insns: ${ms.toFixed(1)} ms, ${r.stats.insnsProcessed} processed, ${r.stats.states} states`);
  // Lenient bound (shared CI machines); the figure is printed above. Typically 100-250 ms here.
  assert.ok(ms < 3000, `took ${ms} ms`);
});

// ---------------------------------------------------------------------------------------------
// Agreement with the kernel's verifier (root, socket filter, programs that do not use the ctx)
// ---------------------------------------------------------------------------------------------

/** [name, program, 'same' | 'stricter' (we reject what the kernel accepts, documented)] */
const KERNEL_CASES: Array<[string, string, 'same' | 'stricter']> = [
  ['uninit reg', 'r0 = r2\nexit', 'same'],
  ['no r0', 'exit', 'same'],
  ['uninit stack (allowed to root)', 'r0 = *(u64 *)(r10 - 8)\nexit', 'same'],
  ['stack oob', '*(u64 *)(r10 - 520) = 1\nr0 = 0\nexit', 'same'],
  ['misaligned stack', '*(u32 *)(r10 - 6) = 1\nr0 = 0\nexit', 'same'],
  ['spill and narrow fill', 'r1 = 5\n*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\nexit', 'same'],
  ['partial fill of a pointer', '*(u64 *)(r10 - 8) = r10\nr0 = *(u32 *)(r10 - 8)\nexit', 'same'],
  ['lookup, no NULL check', `${LOOKUP(1, 0)}r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['array lookup, constant key', `${LOOKUP(0, 1)}r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['lookup, NULL check', `${LOOKUP(1, 0)}if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['map value oob', `${LOOKUP(1, 0)}if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 4)\nr0 = 0\nexit`, 'same'],
  ['variable index', `${LOOKUP(0, 0)}if r0 == 0 goto +4\nr1 = *(u32 *)(r0 + 0)\nif r1 > 12 goto +2\nr0 += r1\nr0 = *(u32 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['variable index oob', `${LOOKUP(0, 0)}if r0 == 0 goto +4\nr1 = *(u32 *)(r0 + 0)\nif r1 > 13 goto +2\nr0 += r1\nr0 = *(u32 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['signed index', `${LOOKUP(0, 0)}if r0 == 0 goto +4\nr1 = *(u64 *)(r0 + 0)\nif r1 s> 12 goto +2\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nr0 = 0\nexit`, 'same'],
  ['ptr - ptr', 'r0 = r10\nr0 -= r10\nexit', 'same'],
  ['ptr & k', 'r0 = r10\nr0 &= 4\nr0 = 0\nexit', 'same'],
  ['w ptr', 'r0 = r10\nw0 += 4\nr0 = 0\nexit', 'same'],
  ['fp -= 8', 'r1 = r10\nr1 -= 8\nr0 = 0\nexit', 'same'],
  ['map handle += 8', 'r1 = map[0] ll\nr1 += 8\nr0 = 0\nexit', 'same'],
  ['ringbuf leak', 'r1 = map[2] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +1\n*(u64 *)(r0 + 0) = 1\nr0 = 0\nexit', 'same'],
  ['ringbuf submit', 'r1 = map[2] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +4\n*(u64 *)(r0 + 0) = 1\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit', 'same'],
  ['ringbuf oob', 'r1 = map[2] ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +4\n*(u64 *)(r0 + 12) = 1\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit', 'same'],
  ['bounded loop', 'r1 = 0\nr2 = 0\nr2 += r1\nr1 += 1\nif r1 < 100 goto -3\nr0 = r2\nexit', 'same'],
  ['infinite loop', 'r0 = 0\nif r0 == 0 goto -2\nexit', 'same'],
  ['unreachable', 'r0 = 0\nexit\nr0 = 1\nexit', 'same'],
  ['global', 'r1 = map_value[3] + 8 ll\nr0 = *(u64 *)(r1 + 0)\nexit', 'same'],
  ['global oob', 'r1 = map_value[3] + 8 ll\nr0 = *(u64 *)(r1 + 4)\nexit', 'same'],
  ['atomic', 'r1 = map_value[3] ll\nr2 = 1\nlock *(u64 *)(r1 + 0) += r2\nr0 = 0\nexit', 'same'],
  ['misaligned atomic', 'r1 = map_value[3] ll\nr2 = 1\nlock *(u64 *)(r1 + 4) += r2\nr0 = 0\nexit', 'same'],
  ['subprog', 'r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nexit', 'same'],
  ['subprog returns fp', 'call pc+2\nr0 = 0\nexit\nr0 = r10\nexit', 'same'],
  ['and-fork idiom', '*(u64 *)(r10 - 8) = 0\nr1 = *(u64 *)(r10 - 8)\nr1 s>>= 63\nr1 &= 5\nr0 = r1\nexit', 'same'],
  ['variable stack offset', 'r1 = *(u64 *)(r10 - 8)\nr1 &= 7\nr2 = r10\nr2 += -16\nr2 += r1\n*(u8 *)(r2 + 0) = 0\nr0 = 0\nexit', 'stricter'],
];

test('verdicts agree with the kernel verifier (root, socket filters)', async (t) => {
  const sys = await import('../src/sys/bpf.js');
  const why = sys.bpfUnavailableReason();
  if (why) return t.skip(why);
  const kmaps = MAPS.slice(0, 4).map((m) => sys.createMap(m.type, m.keySize, m.valueSize, m.maxEntries, m.flags));
  try {
    for (const [name, src, rel] of KERNEL_CASES) {
      const ours = verdict(src, ROOT);
      const insns = assemble(src).map((i) => (i.code === 0x18 && (i.src === 1 || i.src === 2) ? { ...i, imm: kmaps[i.imm]!.fd } : i));
      let kernel = 'OK';
      try {
        sys.loadProgram(insns, { logSize: 0 }).close();
      } catch (e) {
        if (!(e instanceof sys.ProgLoadError)) throw e;
        kernel = 'rejected';
      }
      if (rel === 'same') assert.equal(ours === 'OK', kernel === 'OK', `${name}: ours ${ours}, kernel ${kernel}`);
      else assert.ok(ours !== 'OK' && kernel === 'OK', `${name} (known stricter): ours ${ours}, kernel ${kernel}`);
    }
  } finally {
    for (const m of kmaps) m.close();
  }
});

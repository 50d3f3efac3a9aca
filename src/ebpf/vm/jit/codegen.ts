/**
 * @module ebpf/vm/jit/codegen
 * Turns a decoded program into the source of the body given to `new Function('rt', body)`,
 * which returns `exec(budget): number` (the low half of r0; the high half is left in RES[0]).
 *
 * The code of the basic blocks (./blocks.ts, in slot order) is the same in both layouts:
 * registers are locals, `lN`/`hN` = low/high u32 half of rN; each block is a `case` of
 * `out: for (;;) switch (pc)` that first charges its instruction count to the budget
 * (ERR_VM_INSN_LIMIT at the block's first instruction); a block that does not end in a taken
 * jump falls through into the next one without dispatch; a jump sets pc and `continue`s; an
 * exit of frame 0 sets pc = -1 and leaves the loop.
 *
 *   - Single function (the usual case): exec holds all the blocks; registers start as the
 *     interpreter's (ctx in r1, frame pointer in r10, VM_POISON elsewhere).
 *   - Chunked, when the code is too big for the JS engine to optimize one function
 *     (TurboFan gives up beyond 60 KB of bytecode, and unoptimized code is slower than the
 *     interpreter): consecutive blocks are grouped into functions of at most
 *     CHUNK_SOURCE_CHARS; a chunk loads the registers from REG at entry and stores them back
 *     when it returns the pc of a block it does not hold (its switch's default) to exec, which
 *     dispatches to the chunk holding it (CHUNK_OF).
 *
 * Everything embedded in the source is a number derived from the decoded program, or a fixed
 * string of this module: nothing of the input is ever pasted in as text.
 */
import { BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX } from '../../../abi/bpf.js';
import type { DecodedProgram } from '../decode.js';
import { basicBlocks, hasLocalCalls } from './blocks.js';
import { emitAlu } from './emit-alu.js';
import { emitJump, POISON_HI, POISON_LO } from './emit-jmp.js';
import { emitLddw, emitLoad, emitStore, type MemoryLayout } from './emit-mem.js';

/** Source budget of one generated function (bytecode is ~0.6x the source: well under 60 KB). */
export const CHUNK_SOURCE_CHARS = 36_000;
/** Longest basic block (instructions): longer straight runs are cut, so one fits in a chunk. */
export const MAX_BLOCK_INSNS = 64;

export interface CodegenOptions {
  layout: MemoryLayout;
  /** Number of maps (lddw map handles beyond it fault). */
  mapCount: number;
  /** Whether slot i calls a helper present in the helper table. */
  hasHelper(i: number): boolean;
  /** Source budget per function (default CHUNK_SOURCE_CHARS; tests lower it to force chunks). */
  chunkChars?: number;
}

export interface GeneratedCode {
  source: string;
  /** Chunked layout: for each slot 0..n, the chunk holding the block starting there, or -1. */
  chunkOf?: Int32Array;
  chunks: number;
}

/** Names the generated code takes from its runtime object (see ./runtime.ts JitRuntime). */
export const RUNTIME_NAMES = [
  'M', 'OUT', 'RES', 'SV', 'RP', 'FPL', 'FPH', 'SDV', 'D', 'MVOK', 'MVL', 'MVH', 'CHUNK_OF',
  'MUL64', 'DIV64', 'ALU32', 'CALLH', 'MAPVAL', 'LIMIT', 'FELL', 'DEPTH', 'UNKNOWN', 'BADMAP', 'AF',
] as const;

const REGS = Array.from({ length: 11 }, (_, r) => r);
const TEMPS = 'let s = 0, t = 0, c = 0, xl = 0, xh = 0, al = 0, ah = 0, o = 0, ol = 0, oh = 0, nl = 0, nh = 0, sl = 0, sh = 0;';
const SWITCH_END = ['      }', '    }'];

/** The source of the factory body, and the chunk map when chunked (see the module comment). */
export function generateSource(p: DecodedProgram, opts: CodegenOptions): GeneratedCode {
  const frames = hasLocalCalls(p);
  const blocks = basicBlocks(p, MAX_BLOCK_INSNS).map((b) => {
    const lines = [`        case ${b.start}:`, `          if ((budget -= ${b.insns.length}) < 0) throw LIMIT(${b.start});`];
    for (const i of b.insns) lines.push(`          /* ${i} */ ${emitInsn(p, i, opts, frames)}`);
    return { start: b.start, code: lines.join('\n') };
  });
  const head = [`'use strict';`, `const { ${RUNTIME_NAMES.join(', ')} } = rt;`];
  const budget = opts.chunkChars ?? CHUNK_SOURCE_CHARS;
  const total = blocks.reduce((n, b) => n + b.code.length, 0);
  if (total <= budget) return { source: [...head, ...single(p, blocks.map((b) => b.code), opts.layout)].join('\n'), chunks: 1 };

  // Chunked: group consecutive blocks up to the budget.
  const groups: { start: number; code: string }[][] = [[]];
  let size = 0;
  for (const b of blocks) {
    if (size > 0 && size + b.code.length > budget) { groups.push([]); size = 0; }
    groups[groups.length - 1]!.push(b);
    size += b.code.length;
  }
  const chunkOf = new Int32Array(p.length + 1).fill(-1);
  const out = [...head, 'const REG = new Uint32Array(22), BST = new Float64Array(2), CX = { dv: null, len: 0 };'];
  groups.forEach((g, k) => {
    for (const b of g) chunkOf[b.start] = k;
    const next = k + 1 < groups.length ? groups[k + 1]![0]!.start : p.length; // the last falls off the end
    out.push(...chunk(k, g.map((b) => b.code), next));
  });
  out.push(`const CH = [${groups.map((_, k) => `c${k}`).join(', ')}];`);
  out.push(...trampoline(p, opts.layout));
  return { source: out.join('\n'), chunkOf, chunks: groups.length };
}

function emitInsn(p: DecodedProgram, i: number, opts: CodegenOptions, frames: boolean): string {
  switch (p.code[i]! & 7) {
    case BPF_ALU:
    case BPF_ALU64: return emitAlu(p, i);
    case BPF_LDX: return emitLoad(p, i, opts.layout);
    case BPF_ST:
    case BPF_STX: return emitStore(p, i, opts.layout);
    case BPF_LD: return emitLddw(p, i, opts.mapCount);
    case BPF_JMP:
    case BPF_JMP32: return emitJump(p, i, frames, opts.hasHelper);
  }
  throw new RangeError(`jit: class of 0x${p.code[i]!.toString(16)}`); // the decoder rejects it
}

/** Initial register values, as the interpreter's: ctx in r1, frame 0's r10, VM_POISON. */
function initialRegs(lay: MemoryLayout): [number, number][] {
  return REGS.map((r) => r === 1 ? [0, lay.ctxHi] : r === 10 ? [lay.stackSize, lay.stackHi0] : [POISON_LO, POISON_HI]);
}

/** The prologue of a run: this run's context region (cdv, cl) and frame 0's stack. */
function runPrologue(lay: MemoryLayout): string[] {
  return [
    `  R = M.resolveLoHi(0, ${lay.ctxHi}, 0, 'read', 0);`,
    // A stack is zeroed on entry to its frame, as in the interpreter, but only when something
    // may have written it since it was last zeroed (D: set by stores that may hit it, helpers).
    '  if (D[0] !== 0) { M.clearStack(0); D[0] = 0; }',
  ];
}

function single(p: DecodedProgram, blocks: string[], lay: MemoryLayout): string[] {
  return [
    'return function exec(budget) {',
    `  let ${initialRegs(lay).map(([lo, hi], r) => `l${r} = ${lo}, h${r} = ${hi}`).join(', ')};`,
    `  let pc = 0, frame = 0, R = null, dv = null; ${TEMPS}`,
    ...runPrologue(lay),
    '  let cdv = R.dv, cl = R.bytes.length, sdv = SDV[0];',
    '  try {',
    '    out: for (;;) {',
    '      switch (pc) {',
    ...blocks,
    `        case ${p.length}:`,
    '          throw FELL();',
    '        default:',
    '          throw new RangeError(`jit: no block at ${pc}`);',
    ...SWITCH_END,
    '  } catch (e) {',
    '    throw AF(e, pc);',
    '  }',
    '  RES[0] = h0;',
    '  return l0;',
    '};',
  ];
}

/** Chunk k: returns the next pc outside it (-1: exit of frame 0), registers saved in REG. */
function chunk(k: number, blocks: string[], next: number): string[] {
  const load = REGS.map((r) => `l${r} = REG[${r}], h${r} = REG[${r + 11}]`).join(', ');
  const save = REGS.map((r) => `REG[${r}] = l${r}; REG[${r + 11}] = h${r};`).join(' ');
  return [
    `function c${k}(pc) {`,
    `  let ${load};`,
    `  let budget = BST[0], frame = BST[1], cdv = CX.dv, cl = CX.len, sdv = SDV[frame], R = null, dv = null; ${TEMPS}`,
    '  out: for (;;) {',
    '    switch (pc) {',
    ...blocks,
    `          pc = ${next}; break out;`, // the last block falls through into the next chunk
    '        default:',
    '          break out;',
    ...SWITCH_END,
    `  ${save} BST[0] = budget; BST[1] = frame;`,
    '  return pc;',
    '}',
  ];
}

function trampoline(p: DecodedProgram, lay: MemoryLayout): string[] {
  return [
    `const INIT = new Uint32Array([${initialRegs(lay).map(([lo]) => lo).join(', ')}, ${initialRegs(lay).map(([, hi]) => hi).join(', ')}]);`,
    'return function exec(budget) {',
    '  let pc = 0, R = null;',
    ...runPrologue(lay),
    '  CX.dv = R.dv; CX.len = R.bytes.length; REG.set(INIT); BST[0] = budget; BST[1] = 0;',
    '  try {',
    '    for (;;) {',
    '      const k = CHUNK_OF[pc];',
    '      if (k < 0) break;',
    '      pc = CH[k](pc);',
    '      if (pc < 0) { RES[0] = REG[11]; return REG[0]; }',
    '    }',
    '  } catch (e) {',
    '    throw AF(e, pc);',
    '  }',
    `  if (pc === ${p.length}) throw FELL();`,
    '  throw AF(new RangeError(`jit: no block at ${pc}`), pc);',
    '};',
  ];
}

/**
 * @module ebpf/vm/jit/emit-mem
 * JavaScript source for loads, stores, atomics and lddw. An access computes its 64-bit
 * address as two u32 halves, then asks the VM's Memory (../memory.ts, `resolveLoHi`) for the
 * region: the same regions, checks and faults as the interpreter, with the faulting
 * instruction's index passed along so the fault carries it. The context and the current
 * frame's stack, where nearly all accesses go, have inline fast paths (see `locate`). Values
 * move through the region's DataView, 64-bit ones as two little-endian u32 halves.
 */
import {
  BPF_ADD, BPF_AND, BPF_ATOMIC, BPF_CMPXCHG, BPF_FETCH, BPF_MEMSX, BPF_OR, BPF_ST, BPF_XCHG, BPF_XOR,
  MAX_CALL_FRAMES,
} from '../../../abi/bpf.js';
import { LD_CONST, LD_MAP_HANDLE, type DecodedProgram } from '../decode.js';
import { MAP_HANDLE_BASE } from '../types.js';
import { H, L } from './emit-alu.js';

const SIZES = [4, 2, 1, 8]; // BPF_W, BPF_H, BPF_B, BPF_DW >> 3
const MAP_HANDLE_HI = Number(MAP_HANDLE_BASE >> 32n);

/** Where the fixed regions are (from ../memory.ts, via a Memory instance: see ./compile.ts). */
export interface MemoryLayout {
  /** High word of the context region's addresses. */
  ctxHi: number;
  /** High word of the stack region of frame 0 (frame f: stackHi0 + 16 * f). */
  stackHi0: number;
  /** Bytes per stack (r10 points at its end). */
  stackSize: number;
}

/** `al`/`ah` = register r + off (64-bit add of a sign-extended 16-bit offset). */
function address(r: number, off: number): string {
  if (off === 0) return `al = ${L(r)}; ah = ${H(r)};`;
  if (off > 0) return `t = ${L(r)} + ${off}; al = t >>> 0; ah = t > 4294967295 ? (${H(r)} + 1) >>> 0 : ${H(r)};`;
  return `t = ${L(r)} - ${-off}; al = t >>> 0; ah = t < 0 ? (${H(r)} + 4294967295) >>> 0 : ${H(r)};`;
}

/** r10 + off, `size` bytes, always inside the current frame's stack. */
const directStack = (base: number, off: number, lay: MemoryLayout, size: number): boolean =>
  base === 10 && off < 0 && lay.stackSize + off >= 0 && -off >= size;

/**
 * Sets `dv` and `o` for an access of `size` bytes at register `base` + `off` (and `al`/`ah` =
 * the address, except on the first path). Fast paths, each exactly what Memory.resolve would allow: r10 plus a constant
 * that stays inside the frame's stack (no check at all: r10 is read-only); any address in the
 * current frame's stack (`sdv`); a read inside this run's context (`cdv`, `cl` its length).
 * Anything else asks Memory, which faults like the interpreter.
 */
function locate(base: number, off: number, size: number, access: 'read' | 'write', i: number, lay: MemoryLayout): string {
  if (directStack(base, off, lay, size)) return `dv = sdv; o = ${lay.stackSize + off};`;
  const slow = `R = M.resolveLoHi(al, ah, ${size}, '${access}', ${i}); o = M.offset; dv = R.dv;`;
  const stack = `if (ah === h10 && al <= ${lay.stackSize - size}) { dv = sdv; o = al; }`;
  const ctx = access === 'read' ? ` else if (ah === ${lay.ctxHi} && al + ${size} <= cl) { dv = cdv; o = al; }` : '';
  return `${address(base, off)} ${stack}${ctx} else { ${slow} }`;
}

/**
 * Marks the stack an access may write as dirty (D[frame] = 1: zeroed again when a run or call
 * next enters that frame; see ./codegen.ts). `direct`: known to be the current frame's stack.
 */
function markDirty(direct: boolean, lay: MemoryLayout): string {
  if (direct) return 'D[frame] = 1;';
  return `t = (ah - ${lay.stackHi0}) >>> 0; if (t < ${16 * MAX_CALL_FRAMES}) D[t >>> 4] = 1;`;
}

/** Source of LDX instruction i (BPF_MEM and BPF_MEMSX). */
export function emitLoad(p: DecodedProgram, i: number, lay: MemoryLayout): string {
  const code = p.code[i]!, d = p.dst[i]!;
  const size = SIZES[(code >> 3) & 3]!;
  const ld = L(d), hd = H(d);
  const head = `${locate(p.src[i]!, p.off[i]!, size, 'read', i, lay)} `;
  if ((code & 0xe0) === BPF_MEMSX) {
    const get = size === 1 ? 'dv.getInt8(o)' : size === 2 ? 'dv.getInt16(o, true)' : 'dv.getInt32(o, true)';
    return `${head}t = ${get}; ${ld} = t >>> 0; ${hd} = (t >> 31) >>> 0;`;
  }
  switch (size) {
    case 1: return `${head}${ld} = dv.getUint8(o); ${hd} = 0;`;
    case 2: return `${head}${ld} = dv.getUint16(o, true); ${hd} = 0;`;
    case 4: return `${head}${ld} = dv.getUint32(o, true); ${hd} = 0;`;
    default: return `${head}${ld} = dv.getUint32(o, true); ${hd} = dv.getUint32(o + 4, true);`;
  }
}

/** Source of ST/STX instruction i (BPF_MEM stores and BPF_ATOMIC). */
export function emitStore(p: DecodedProgram, i: number, lay: MemoryLayout): string {
  const code = p.code[i]!;
  const size = SIZES[(code >> 3) & 3]!;
  if ((code & 0xe0) === BPF_ATOMIC) return emitAtomic(p, i, size, lay);
  const base = p.dst[i]!, off = p.off[i]!;
  const direct = directStack(base, off, lay, size);
  const head = `${locate(base, off, size, 'write', i, lay)} ${markDirty(direct, lay)} `;
  let lo: string, hi: string;
  if ((code & 7) === BPF_ST) {
    const imm = p.imm[i]!;
    lo = String(imm >>> 0);
    hi = imm < 0 ? '4294967295' : '0';
  } else {
    lo = L(p.src[i]!);
    hi = H(p.src[i]!);
  }
  switch (size) {
    case 1: return `${head}dv.setUint8(o, ${lo} & 255);`;
    case 2: return `${head}dv.setUint16(o, ${lo} & 65535, true);`;
    case 4: return `${head}dv.setUint32(o, ${lo}, true);`;
    default: return `${head}dv.setUint32(o, ${lo}, true); dv.setUint32(o + 4, ${hi}, true);`;
  }
}

/**
 * STX|ATOMIC: ADD/OR/AND/XOR (optionally FETCH), XCHG, CMPXCHG on 4 or 8 aligned bytes, as
 * ../interpreter.ts `atomic`: the source is read first (it may be r0 or the address register),
 * CMPXCHG compares with r0 (its low half for W) and always loads r0 with the old value, the
 * FETCH forms load the source register with it (zero-extended for W). Always through Memory
 * (it checks the alignment).
 */
function emitAtomic(p: DecodedProgram, i: number, size: number, lay: MemoryLayout): string {
  const op = p.kind[i]!, s = p.src[i]!;
  const wide = size === 8;
  let out = `${address(p.dst[i]!, p.off[i]!)} ${markDirty(false, lay)} R = M.resolveLoHi(al, ah, ${size}, 'atomic', ${i}); o = M.offset; dv = R.dv; `;
  out += wide ? `ol = dv.getUint32(o, true); oh = dv.getUint32(o + 4, true); sl = ${L(s)}; sh = ${H(s)}; `
    : `ol = dv.getUint32(o, true); oh = 0; sl = ${L(s)}; sh = 0; `;
  switch (op & ~BPF_FETCH) {
    case BPF_ADD: out += 't = ol + sl; nl = t >>> 0; nh = (oh + sh + (t > 4294967295 ? 1 : 0)) >>> 0; '; break;
    case BPF_OR: out += 'nl = (ol | sl) >>> 0; nh = (oh | sh) >>> 0; '; break;
    case BPF_AND: out += 'nl = (ol & sl) >>> 0; nh = (oh & sh) >>> 0; '; break;
    case BPF_XOR: out += 'nl = (ol ^ sl) >>> 0; nh = (oh ^ sh) >>> 0; '; break;
    case BPF_XCHG & ~BPF_FETCH: out += 'nl = sl; nh = sh; '; break;
    default: // CMPXCHG
      out += wide ? 'if (ol === l0 && oh === h0) { nl = sl; nh = sh; } else { nl = ol; nh = oh; } l0 = ol; h0 = oh; '
        : 'nl = ol === l0 ? sl : ol; nh = 0; l0 = ol; h0 = 0; ';
  }
  out += wide ? 'dv.setUint32(o, nl, true); dv.setUint32(o + 4, nh, true);' : 'dv.setUint32(o, nl, true);';
  if ((op & BPF_FETCH) !== 0 && op !== BPF_CMPXCHG) out += ` ${L(s)} = ol; ${H(s)} = oh;`;
  return out;
}

/**
 * Source of lddw at slot i. Constants and map handles are literals (a handle of a map index
 * out of range faults when executed, as in the interpreter); a map value address is resolved
 * on first execution by MAPVAL (then cached and its region pinned, as in the interpreter).
 */
export function emitLddw(p: DecodedProgram, i: number, mapCount: number): string {
  const d = p.dst[i]!;
  const kind = p.kind[i]!;
  if (kind === LD_CONST) {
    const v = p.k64[i]!;
    return `${L(d)} = ${Number(v & 0xffff_ffffn)}; ${H(d)} = ${Number(v >> 32n)};`;
  }
  if (kind === LD_MAP_HANDLE) {
    const m = p.imm[i]!;
    if (m < 0 || m >= mapCount) return `throw BADMAP(${i});`;
    return `${L(d)} = ${m}; ${H(d)} = ${MAP_HANDLE_HI};`;
  }
  return `if (MVOK[${i}] === 0) MAPVAL(${i}); ${L(d)} = MVL[${i}]; ${H(d)} = MVH[${i}];`;
}

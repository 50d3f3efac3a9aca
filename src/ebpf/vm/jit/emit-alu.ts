/**
 * @module ebpf/vm/jit/emit-alu
 * JavaScript source for the ALU, ALU64 and BPF_END instructions, on registers held as two u32
 * numbers (`lN` low half, `hN` high half; both always in [0, 2^32)). Semantics are those of
 * ../alu.ts (Linux's): 32-bit results are zero-extended, shift counts masked, DIV by 0 gives
 * 0, MOD by 0 leaves dst, signed INT_MIN / -1 wraps.
 *
 * Common operations are inline number code. 64-bit MUL/DIV/MOD and 32-bit signed DIV/MOD call
 * runtime functions (./runtime.ts) that write their result to OUT[0] (low) and OUT[1] (high).
 * Only numbers taken from the decoded program are ever embedded in the source.
 */
import {
  BPF_ADD, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_DIV, BPF_END, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_RSH, BPF_SUB, BPF_X, BPF_XOR,
} from '../../../abi/bpf.js';
import type { DecodedProgram } from '../decode.js';

export const L = (r: number): string => `l${r}`;
export const H = (r: number): string => `h${r}`;

/** Byte swap of a u32 expression `x` (a plain variable: it is repeated). */
export const bswap32 = (x: string): string =>
  `((((${x} & 255) << 24) | ((${x} & 65280) << 8) | ((${x} >>> 8) & 65280) | (${x} >>> 24)) >>> 0)`;
const bswap16 = (x: string): string => `(((${x} & 255) << 8) | ((${x} >>> 8) & 255))`;

/** Source of ALU64 instruction i (class BPF_ALU64). */
export function emitAlu64(p: DecodedProgram, i: number): string {
  const code = p.code[i]!, d = p.dst[i]!, op = code & 0xf0;
  const ld = L(d), hd = H(d);
  if (op === BPF_END) { // bswap16/32/64
    const bits = p.imm[i]!;
    if (bits === 16) return `${ld} = ${bswap16(ld)}; ${hd} = 0;`;
    if (bits === 32) return `${ld} = ${bswap32(ld)}; ${hd} = 0;`;
    return `t = ${bswap32(ld)}; ${ld} = ${bswap32(hd)}; ${hd} = t;`;
  }
  if (op === BPF_NEG) return `${ld} = (-${ld}) >>> 0; ${hd} = (${ld} === 0 ? -${hd} : ~${hd}) >>> 0;`;
  const x = (code & BPF_X) !== 0;
  // Operand b as (bl, bh): copied to temporaries when a register (src may be dst), else constants.
  const imm = p.imm[i]!;
  const pre = x ? `xl = ${L(p.src[i]!)}; xh = ${H(p.src[i]!)}; ` : '';
  const bl = x ? 'xl' : String(imm >>> 0);
  const bh = x ? 'xh' : imm < 0 ? '4294967295' : '0';
  const kh = x ? undefined : imm < 0 ? -1 : 0; // K: high half of the sign-extended immediate
  const off = p.off[i]!;
  switch (op) {
    case BPF_MOV:
      if (off === 0) return `${pre}${ld} = ${bl}; ${hd} = ${bh};`;
      if (off === 32) return `${pre}${ld} = xl; ${hd} = ((xl | 0) >> 31) >>> 0;`;
      return `${pre}t = (xl << ${32 - off}) >> ${32 - off}; ${ld} = t >>> 0; ${hd} = (t >> 31) >>> 0;`;
    case BPF_ADD:
      return `${pre}t = ${ld} + ${bl}; ${hd} = (${hd} + ${bh} + (t > 4294967295 ? 1 : 0)) >>> 0; ${ld} = t >>> 0;`;
    case BPF_SUB:
      return `${pre}t = ${ld} - ${bl}; ${hd} = (${hd} - ${bh} - (t < 0 ? 1 : 0)) >>> 0; ${ld} = t >>> 0;`;
    case BPF_AND:
      if (kh === 0) return `${ld} = (${ld} & ${bl}) >>> 0; ${hd} = 0;`;
      if (kh === -1) return `${ld} = (${ld} & ${bl}) >>> 0;`;
      return `${pre}${ld} = (${ld} & ${bl}) >>> 0; ${hd} = (${hd} & ${bh}) >>> 0;`;
    case BPF_OR:
      if (kh === 0) return `${ld} = (${ld} | ${bl}) >>> 0;`;
      if (kh === -1) return `${ld} = (${ld} | ${bl}) >>> 0; ${hd} = 4294967295;`;
      return `${pre}${ld} = (${ld} | ${bl}) >>> 0; ${hd} = (${hd} | ${bh}) >>> 0;`;
    case BPF_XOR:
      if (kh === 0) return `${ld} = (${ld} ^ ${bl}) >>> 0;`;
      if (kh === -1) return `${ld} = (${ld} ^ ${bl}) >>> 0; ${hd} = (~${hd}) >>> 0;`;
      return `${pre}${ld} = (${ld} ^ ${bl}) >>> 0; ${hd} = (${hd} ^ ${bh}) >>> 0;`;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH:
      if (!x) return shift64(op, d, imm & 63);
      return `c = ${L(p.src[i]!)} & 63; if (c >= 32) { ${shift64(op, d, 'c', true)} } else if (c !== 0) { ${shift64(op, d, 'c', false)} }`;
    case BPF_MUL:
      return `${pre}MUL64(${ld}, ${hd}, ${bl}, ${bh}); ${ld} = OUT[0]; ${hd} = OUT[1];`;
    case BPF_DIV:
    case BPF_MOD:
      return `${pre}DIV64(${op}, ${off}, ${ld}, ${hd}, ${bl}, ${bh}); ${ld} = OUT[0]; ${hd} = OUT[1];`;
  }
  throw new RangeError(`jit: ALU64 op 0x${op.toString(16)}`); // the decoder rejects the others
}

/**
 * A 64-bit shift of register d by `c` (a constant 0..63, or the variable 'c' with `wide`
 * telling whether this is its >= 32 branch; the caller handles c = 0).
 */
function shift64(op: number, d: number, c: number | 'c', wide?: boolean): string {
  const ld = L(d), hd = H(d);
  if (c === 0) return '';
  const big = typeof c === 'number' ? c >= 32 : wide!;
  const lessW = typeof c === 'number' ? String(c - 32) : '(c - 32)';
  const rest = typeof c === 'number' ? String(32 - c) : '(32 - c)';
  switch (op) {
    case BPF_LSH:
      return big ? `${hd} = (${ld} << ${lessW}) >>> 0; ${ld} = 0;`
        : `${hd} = ((${hd} << ${c}) | (${ld} >>> ${rest})) >>> 0; ${ld} = (${ld} << ${c}) >>> 0;`;
    case BPF_RSH:
      return big ? `${ld} = ${hd} >>> ${lessW}; ${hd} = 0;`
        : `${ld} = ((${ld} >>> ${c}) | (${hd} << ${rest})) >>> 0; ${hd} = ${hd} >>> ${c};`;
    default: // ARSH
      return big ? `${ld} = (${hd} >> ${lessW}) >>> 0; ${hd} = (${hd} >> 31) >>> 0;`
        : `${ld} = ((${ld} >>> ${c}) | (${hd} << ${rest})) >>> 0; ${hd} = (${hd} >> ${c}) >>> 0;`;
  }
}

/** Source of ALU (32-bit) instruction i, BPF_END (le/be) included. */
export function emitAlu32(p: DecodedProgram, i: number): string {
  const code = p.code[i]!, d = p.dst[i]!, op = code & 0xf0;
  const ld = L(d), hd = H(d);
  const x = (code & BPF_X) !== 0;
  if (op === BPF_END) {
    const bits = p.imm[i]!;
    if (!x) return bits === 16 ? `${ld} = ${ld} & 65535; ${hd} = 0;` : bits === 32 ? `${hd} = 0;` : ''; // le: truncation
    if (bits === 16) return `${ld} = ${bswap16(ld)}; ${hd} = 0;`;
    if (bits === 32) return `${ld} = ${bswap32(ld)}; ${hd} = 0;`;
    return `t = ${bswap32(ld)}; ${ld} = ${bswap32(hd)}; ${hd} = t;`;
  }
  const k = p.k32[i]!;
  const b = x ? L(p.src[i]!) : String(k);
  const off = p.off[i]!;
  let v: string;
  switch (op) {
    case BPF_ADD: v = `${ld} = (${ld} + ${b}) >>> 0;`; break;
    case BPF_SUB: v = `${ld} = (${ld} - ${b}) >>> 0;`; break;
    case BPF_MUL: v = `${ld} = Math.imul(${ld}, ${b}) >>> 0;`; break;
    case BPF_OR: v = `${ld} = (${ld} | ${b}) >>> 0;`; break;
    case BPF_AND: v = `${ld} = (${ld} & ${b}) >>> 0;`; break;
    case BPF_XOR: v = `${ld} = (${ld} ^ ${b}) >>> 0;`; break;
    case BPF_LSH: v = `${ld} = (${ld} << ${x ? `(${b} & 31)` : k & 31}) >>> 0;`; break;
    case BPF_RSH: v = `${ld} = ${ld} >>> ${x ? `(${b} & 31)` : k & 31};`; break;
    case BPF_ARSH: v = `${ld} = (${ld} >> ${x ? `(${b} & 31)` : k & 31}) >>> 0;`; break;
    case BPF_NEG: v = `${ld} = (-${ld}) >>> 0;`; break;
    case BPF_MOV:
      if (off === 0) v = x && p.src[i] === d ? '' : `${ld} = ${b};`;
      else v = `${ld} = ((${b} << ${32 - off}) >> ${32 - off}) >>> 0;`;
      break;
    case BPF_DIV:
    case BPF_MOD:
      if (off === 1) v = `${ld} = ALU32(${op}, ${ld}, ${b}, 1);`;
      else if (!x) v = k === 0 ? (op === BPF_DIV ? `${ld} = 0;` : '') : op === BPF_DIV ? `${ld} = (${ld} / ${k}) >>> 0;` : `${ld} = ${ld} % ${k};`;
      else v = op === BPF_DIV ? `t = ${b}; ${ld} = t === 0 ? 0 : (${ld} / t) >>> 0;` : `t = ${b}; if (t !== 0) ${ld} = ${ld} % t;`;
      break;
    default:
      throw new RangeError(`jit: ALU op 0x${op.toString(16)}`);
  }
  return `${v} ${hd} = 0;`;
}

/** Source of instruction i of class ALU or ALU64. */
export function emitAlu(p: DecodedProgram, i: number): string {
  return (p.code[i]! & 7) === BPF_ALU64 ? emitAlu64(p, i) : emitAlu32(p, i);
}

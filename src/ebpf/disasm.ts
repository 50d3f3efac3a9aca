/**
 * @module ebpf/disasm
 * Disassembler in llvm-objdump's BPF syntax, checked against llvm-objdump 14 for everything it
 * prints (test/fixtures/isa) and following LLVM 18+ for the cpu-v4 instructions.
 *
 * Spellings chosen where llvm-objdump is ambiguous or silent (the assembler reads them all):
 *
 *   call 5                     helper call (src_reg 0), as llvm
 *   call pc+5 / call pc-3      bpf-to-bpf call (src_reg 1); imm is relative to the next slot.
 *                              llvm prints `call 5` for both kinds; this is the kernel
 *                              verifier log's spelling and keeps the two apart.
 *   call kfunc[123]            kfunc call (src_reg 2), imm = BTF id;
 *   call kfunc[123, 2]           ... with off = 2 (module BTF fd index)
 *   r1 = 5 ll                  lddw constant, signed 64-bit decimal, as llvm
 *   r1 = map[3] ll             lddw BPF_PSEUDO_MAP_FD, imm 3 (the loader puts the map index there)
 *   r1 = map_value[3] + 16 ll  lddw BPF_PSEUDO_MAP_VALUE, second imm = value offset (unsigned;
 *                              `+ 0` is left out)
 *   r1 = map_idx[3] ll         lddw BPF_PSEUDO_MAP_IDX
 *   r1 = map_idx_value[3] + 16 ll   lddw BPF_PSEUDO_MAP_IDX_VALUE
 *   r1 = btf_id[123] ll        lddw BPF_PSEUDO_BTF_ID; `btf_id[123, 4]` when the second imm
 *                              (module BTF fd) is not 0
 *   r1 = func pc+5 ll          lddw BPF_PSEUDO_FUNC (imm relative like a call)
 *   if r1 & 3 goto +2          JSET (llvm 14 has no spelling; the verifier log's)
 *   r0 = *(u32 *)skb[r2 + 4]   LD_IND with imm != 0 (llvm drops the imm and prints skb[r2])
 *   .insn 0xb701000005000000   any slot that does not decode: its 8 bytes in file order, as in
 *                              llvm-objdump's hex column. An lddw whose second slot is bad is
 *                              printed as two such lines.
 *
 * 32-bit atomics use wN as llvm-objdump --mattr=+alu32 does (`w2 = atomic_fetch_add((u32 *)(r1
 * + 0), w2)`, `w2 = xchg32_32(r1 + 0, w2)`, `w0 = cmpxchg32_32(r1 + 0, w0, w2)`), except the
 * plain `lock *(u32 *)(r1 + 0) += r2`, which default llvm-objdump spells with rN. The `alu32`
 * option mirrors --mattr=+alu32 fully: wN also for 8/16/32-bit loads, stores and `lock ... +=`.
 * callx (0x8d) is not supported (the kernel rejects it) and prints as `.insn`.
 */
import { SeccompEbpfError } from '../errors.js';
import type { Insn } from './insn.js';
import {
  branchTarget, decodeInstruction, lddwValue,
  type AluOp, type Instruction, type JmpOp, type Operand, type Width,
} from './opcodes.js';

export interface FormatOptions {
  /** Spell sub-64-bit loads/stores and 32-bit atomics with wN like llvm-objdump --mattr=+alu32. Default false. */
  alu32?: boolean;
  /** Name for a branch target slot; when it returns a string the branch uses it instead of an offset. */
  labelFor?: (target: number) => string | undefined;
}

export interface DisasmOptions {
  alu32?: boolean;
  /** Prefix each line with the slot index as llvm-objdump does (`%8d:\t`). Default false. */
  index?: boolean;
  /** With `index`, add llvm-objdump's raw bytes column. Default false. */
  bytes?: boolean;
  /** Put `L<slot>:` labels on branch targets and use them in branches instead of offsets. Default false. */
  labels?: boolean;
}

/** One disassembled instruction: where it starts, how many slots it covers, and its text. */
export interface DisasmLine {
  index: number;
  slots: 1 | 2;
  text: string;
}

const ALU_SYM: Record<AluOp, string> = {
  add: '+', sub: '-', mul: '*', div: '/', sdiv: 's/', or: '|', and: '&', lsh: '<<', rsh: '>>',
  mod: '%', smod: 's%', xor: '^', mov: '', arsh: 's>>',
};
const JMP_SYM: Record<JmpOp, string> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=', jlt: '<', jle: '<=',
  jslt: 's<', jsle: 's<=',
};
const ATOMIC_FETCH_NAME = { add: 'atomic_fetch_add', or: 'atomic_fetch_or', and: 'atomic_fetch_and', xor: 'atomic_fetch_xor' } as const;
const LOCK_SYM = { add: '+=', or: '|=', and: '&=', xor: '^=' } as const;

const reg = (width: Width, n: number): string => `${width === 64 ? 'r' : 'w'}${n}`;
const operand = (width: Width, src: Operand): string => (src.type === 'reg' ? reg(width, src.reg) : String(src.value));
/** `(r1 + 4)` / `(r1 - 8)` address form. */
const addr = (base: number, off: number): string => `r${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
const signed = (n: number): string => (n < 0 ? String(n) : `+${n}`);

/** The raw form of one slot: `.insn 0x` and its 8 bytes in file order. */
export function formatRaw(slot: Insn): string {
  return `.insn 0x${hexBytes(slot, '')}`;
}

/** The slot's 8 bytes in file order as hex (the codec's little-endian layout, inlined for speed). */
function hexBytes(slot: Insn, sep: string): string {
  const { imm, off } = slot;
  const bytes = [slot.code, (slot.dst & 0x0f) | ((slot.src & 0x0f) << 4), off, off >> 8, imm, imm >> 8, imm >> 16, imm >> 24];
  return bytes.map((b) => HEX[b & 0xff]).join(sep);
}
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Formats one decoded instruction located at slot `index`. */
export function formatInstruction(ins: Instruction, index: number, opts: FormatOptions = {}): string {
  const target = (off: number, pcPrefix: string): string => {
    const name = opts.labelFor?.(index + 1 + off);
    return name ?? `${pcPrefix}${signed(off)}`;
  };
  const valueReg = (size: number, n: number): string => `${opts.alu32 && size < 8 ? 'w' : 'r'}${n}`;
  switch (ins.kind) {
    case 'alu':
      return ins.op === 'mov'
        ? `${reg(ins.width, ins.dst)} = ${operand(ins.width, ins.src)}`
        : `${reg(ins.width, ins.dst)} ${ALU_SYM[ins.op]}= ${operand(ins.width, ins.src)}`;
    case 'neg': return `${reg(ins.width, ins.dst)} = -${reg(ins.width, ins.dst)}`;
    case 'movsx': return `${reg(ins.width, ins.dst)} = (s${ins.bits})${reg(ins.width, ins.src)}`;
    case 'endian': return `r${ins.dst} = ${ins.order}${ins.bits} r${ins.dst}`;
    case 'load':
      return `${ins.signed ? `r${ins.dst}` : valueReg(ins.size, ins.dst)} = *(${ins.signed ? 's' : 'u'}${ins.size * 8} *)(${addr(ins.src, ins.off)})`;
    case 'store':
      return `*(u${ins.size * 8} *)(${addr(ins.dst, ins.off)}) = ${ins.src.type === 'reg' ? valueReg(ins.size, ins.src.reg) : ins.src.value}`;
    case 'atomic': {
      const w = ins.size === 4 ? 'w' : 'r';
      const a = addr(ins.dst, ins.off);
      if (ins.op === 'xchg') return ins.size === 4 ? `w${ins.src} = xchg32_32(${a}, w${ins.src})` : `r${ins.src} = xchg_64(${a}, r${ins.src})`;
      if (ins.op === 'cmpxchg') return ins.size === 4 ? `w0 = cmpxchg32_32(${a}, w0, w${ins.src})` : `r0 = cmpxchg_64(${a}, r0, r${ins.src})`;
      if (ins.fetch) return `${w}${ins.src} = ${ATOMIC_FETCH_NAME[ins.op]}((u${ins.size * 8} *)(${a}), ${w}${ins.src})`;
      // Default llvm-objdump has only the 32-bit add in non-alu32 form, spelled with rN.
      const v = ins.size === 4 && (opts.alu32 || ins.op !== 'add') ? 'w' : 'r';
      return `lock *(u${ins.size * 8} *)(${a}) ${LOCK_SYM[ins.op]} ${v}${ins.src}`;
    }
    case 'lddw': return `r${ins.dst} = ${lddwOperand(ins, target)} ll`;
    case 'ldpkt': {
      const where = ins.mode === 'abs' ? String(ins.imm)
        : ins.imm === 0 ? `r${ins.src}` : `${addr(ins.src, ins.imm)}`;
      return `r0 = *(u${ins.size * 8} *)skb[${where}]`;
    }
    case 'ja': return `${ins.long ? 'gotol' : 'goto'} ${target(ins.off, '')}`;
    case 'jcond':
      return `if ${reg(ins.width, ins.dst)} ${JMP_SYM[ins.op]} ${operand(ins.width, ins.src)} goto ${target(ins.off, '')}`;
    case 'call':
      if (ins.target === 'helper') return `call ${ins.imm}`;
      if (ins.target === 'local') return `call ${target(ins.imm, 'pc')}`;
      return `call kfunc[${ins.imm}${ins.off === 0 ? '' : `, ${ins.off}`}]`;
    case 'exit': return 'exit';
  }
}

function lddwOperand(ins: Extract<Instruction, { kind: 'lddw' }>, target: (off: number, pc: string) => string): string {
  const plus = (n: number): string => (n === 0 ? '' : ` + ${n >>> 0}`);
  switch (ins.source) {
    case 'imm': return String(lddwValue(ins));
    case 'map_fd': return `map[${ins.imm}]`;
    case 'map_idx': return `map_idx[${ins.imm}]`;
    case 'map_value': return `map_value[${ins.imm}]${plus(ins.next)}`;
    case 'map_idx_value': return `map_idx_value[${ins.imm}]${plus(ins.next)}`;
    case 'btf_id': return `btf_id[${ins.imm}${ins.next === 0 ? '' : `, ${ins.next}`}]`;
    case 'func': return `func ${target(ins.imm, 'pc')}`;
  }
}

/**
 * Formats the instruction that starts at `insns[index]` (an lddw covers index and index + 1).
 * A slot that does not decode is printed in the raw `.insn` form. Never throws for any slot
 * contents; `index` must be inside the array.
 */
export function formatInsn(insns: readonly Insn[], index: number, opts: FormatOptions = {}): string {
  const slot = insns[index];
  if (!slot) throw new SeccompEbpfError('ERR_INSN_INVALID', `no instruction at index ${index} (program has ${insns.length} slots)`, { insn: index });
  const d = decodeInstruction(insns, index);
  return d.ok ? formatInstruction(d.insn, index, opts) : formatRaw(slot);
}

/**
 * Splits a program into instructions, front to back, as llvm-objdump does: an lddw with a valid
 * second slot is one line covering two slots; anything that does not decode is one raw slot.
 */
export function disassembleLines(insns: readonly Insn[], opts: FormatOptions = {}): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let i = 0; i < insns.length;) {
    const d = decodeInstruction(insns, i);
    if (d.ok) {
      out.push({ index: i, slots: d.slots, text: formatInstruction(d.insn, i, opts) });
      i += d.slots;
    } else {
      out.push({ index: i, slots: 1, text: formatRaw(insns[i]!) });
      i += 1;
    }
  }
  return out;
}

/**
 * Disassembles a program to text, one instruction per line (with a final newline). The output
 * assembles back to the same bytes with `assemble`, whatever the slots hold (fields are taken
 * modulo their widths, as the codec encodes them).
 */
export function disassemble(insns: readonly Insn[], opts: DisasmOptions = {}): string {
  let labelFor: ((t: number) => string | undefined) | undefined;
  if (opts.labels) {
    // Only instruction starts (and the end of the program) can carry a label.
    const starts = new Set<number>([insns.length]);
    const branches: number[] = [];
    for (let i = 0; i < insns.length;) {
      starts.add(i);
      const d = decodeInstruction(insns, i);
      const t = d.ok ? branchTarget(d.insn, i) : undefined;
      if (t !== undefined) branches.push(t);
      i += d.ok ? d.slots : 1;
    }
    const targets = new Set(branches.filter((t) => starts.has(t)));
    labelFor = (t) => (targets.has(t) ? `L${t}` : undefined);
  }
  const out: string[] = [];
  for (const l of disassembleLines(insns, { alu32: opts.alu32, labelFor })) {
    const label = labelFor?.(l.index);
    if (label) out.push(`${label}:`);
    if (!opts.index) { out.push(l.text); continue; }
    const bytes = !opts.bytes ? ''
      : `${hexBytes(insns[l.index]!, ' ')}${l.slots === 2 ? ` ${hexBytes(insns[l.index + 1]!, ' ')}` : ''}\t`;
    out.push(`${String(l.index).padStart(8)}:\t${bytes}${l.text}`);
  }
  const end = labelFor?.(insns.length);
  if (end) out.push(`${end}:`);
  return out.length ? `${out.join('\n')}\n` : '';
}

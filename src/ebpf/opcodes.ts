/**
 * @module ebpf/opcodes
 * Typed view of eBPF instructions: every encoding the kernel accepts (RFC 9669 base32/base64,
 * divmul, atomic32/64, the Linux cpu-v4 extensions, pseudo lddw/call sources, legacy
 * LD_ABS/LD_IND) maps to exactly one {@link Instruction}, and back.
 *
 * Decoding is strict: every field an instruction does not use must be zero, as RFC 9669 asks
 * and as the kernel enforces ("BPF_ALU uses reserved fields" and friends in
 * kernel/bpf/verifier.c). So `encodeInstruction(decodeInstruction(x))` gives back `x` bit for
 * bit, which is what lets the disassembler and the assembler round-trip. Slots that do not
 * decode are still printable by the disassembler in a raw form.
 *
 * The rules live in one table, {@link FORMS}: for each opcode byte, what each of the fields
 * dst/src/off/imm may hold, and how to build the typed description.
 *
 *   slot:  | code u8 | dst u4 (low) src u4 (high) | off s16 | imm s32 |
 */
import { SeccompEbpfError } from '../errors.js';
import type { Insn } from './insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
  BPF_K, BPF_X, BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH,
  BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END, BPF_TO_LE, BPF_TO_BE,
  BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_CALL, BPF_EXIT,
  BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE, BPF_W, BPF_H, BPF_B, BPF_DW, BPF_IMM, BPF_ABS, BPF_IND,
  BPF_MEM, BPF_MEMSX, BPF_ATOMIC, BPF_FETCH, BPF_XCHG, BPF_CMPXCHG, BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL, MAX_BPF_REG,
} from '../abi/bpf.js';

export type Width = 32 | 64;
/** Access size in bytes. */
export type Size = 1 | 2 | 4 | 8;
export type Operand = { type: 'reg'; reg: number } | { type: 'imm'; value: number };
/** ALU operations; sdiv/smod are DIV/MOD with off = 1 (cpu v4). */
export type AluOp = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh'
  | 'mod' | 'smod' | 'xor' | 'mov' | 'arsh';
export type JmpOp = 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';
export type AtomicOp = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg';
/** lddw src_reg: 0 = plain constant, 1..6 = BPF_PSEUDO_MAP_FD .. BPF_PSEUDO_MAP_IDX_VALUE. */
export type LddwSource = 'imm' | 'map_fd' | 'map_value' | 'btf_id' | 'func' | 'map_idx' | 'map_idx_value';
/** call src_reg: 0 helper (imm = helper id), 1 bpf-to-bpf (imm = relative slot offset), 2 kfunc (imm = BTF id). */
export type CallTarget = 'helper' | 'local' | 'kfunc';

/**
 * One instruction, typed. Register numbers are 0..10. `off` is the signed 16-bit field (jump
 * offsets count slots from the next slot); immediates are the signed 32-bit field as stored.
 */
export type Instruction =
  /** `dst op= src`, ALU (width 32) or ALU64 (width 64), including mov. */
  | { kind: 'alu'; width: Width; op: AluOp; dst: number; src: Operand }
  | { kind: 'neg'; width: Width; dst: number }
  /** MOVSX (cpu v4): MOV|X with off = 8/16/32. */
  | { kind: 'movsx'; width: Width; bits: 8 | 16 | 32; dst: number; src: number }
  /** le/be: ALU|END with source bit LE/BE; bswap: ALU64|END (cpu v4). */
  | { kind: 'endian'; order: 'le' | 'be' | 'bswap'; bits: 16 | 32 | 64; dst: number }
  /** LDX|MEM, or LDX|MEMSX when signed (cpu v4). */
  | { kind: 'load'; size: Size; signed: boolean; dst: number; src: number; off: number }
  /** ST|MEM (src is an immediate) or STX|MEM (src is a register). */
  | { kind: 'store'; size: Size; dst: number; off: number; src: Operand }
  /** STX|ATOMIC. xchg and cmpxchg always fetch. */
  | { kind: 'atomic'; size: 4 | 8; op: AtomicOp; fetch: boolean; dst: number; src: number; off: number }
  /** LD|IMM|DW over two slots; `imm` is the first slot's imm, `next` the second's. */
  | { kind: 'lddw'; source: LddwSource; dst: number; imm: number; next: number }
  /** Legacy LD|ABS / LD|IND (packet access, result in r0). */
  | { kind: 'ldpkt'; mode: 'abs' | 'ind'; size: 1 | 2 | 4; src: number; imm: number }
  /** JMP|JA (16-bit off) or, when long, JMP32|JA with the offset in imm (`gotol`, cpu v4). */
  | { kind: 'ja'; long: boolean; off: number }
  | { kind: 'jcond'; width: Width; op: JmpOp; dst: number; src: Operand; off: number }
  /** `off` is used by kfunc calls only (BTF fd index, 0 = vmlinux). */
  | { kind: 'call'; target: CallTarget; imm: number; off: number }
  | { kind: 'exit' };

export type InstructionKind = Instruction['kind'];

/** Result of decoding the instruction that starts at one slot. */
export type Decoded =
  | { ok: true; insn: Instruction; slots: 1 | 2 }
  | { ok: false; reason: string };

export const LDDW_SOURCES: readonly LddwSource[] = ['imm', 'map_fd', 'map_value', 'btf_id', 'func', 'map_idx', 'map_idx_value'];
const CALL_TARGETS: readonly CallTarget[] = ['helper', 'local', 'kfunc'];

const ALU_OPS: ReadonlyArray<[number, AluOp]> = [
  [BPF_ADD, 'add'], [BPF_SUB, 'sub'], [BPF_MUL, 'mul'], [BPF_DIV, 'div'], [BPF_OR, 'or'],
  [BPF_AND, 'and'], [BPF_LSH, 'lsh'], [BPF_RSH, 'rsh'], [BPF_MOD, 'mod'], [BPF_XOR, 'xor'],
  [BPF_MOV, 'mov'], [BPF_ARSH, 'arsh'],
];
const JMP_OPS: ReadonlyArray<[number, JmpOp]> = [
  [BPF_JEQ, 'jeq'], [BPF_JGT, 'jgt'], [BPF_JGE, 'jge'], [BPF_JSET, 'jset'], [BPF_JNE, 'jne'],
  [BPF_JSGT, 'jsgt'], [BPF_JSGE, 'jsge'], [BPF_JLT, 'jlt'], [BPF_JLE, 'jle'], [BPF_JSLT, 'jslt'],
  [BPF_JSLE, 'jsle'],
];
/** Atomic operations by imm value (RFC 9669 section 5.3). */
const ATOMIC_OPS: ReadonlyArray<[number, AtomicOp, boolean]> = [
  [BPF_ADD, 'add', false], [BPF_ADD | BPF_FETCH, 'add', true],
  [BPF_OR, 'or', false], [BPF_OR | BPF_FETCH, 'or', true],
  [BPF_AND, 'and', false], [BPF_AND | BPF_FETCH, 'and', true],
  [BPF_XOR, 'xor', false], [BPF_XOR | BPF_FETCH, 'xor', true],
  [BPF_XCHG, 'xchg', true], [BPF_CMPXCHG, 'cmpxchg', true],
];
const SIZES: ReadonlyArray<[number, Size]> = [[BPF_B, 1], [BPF_H, 2], [BPF_W, 4], [BPF_DW, 8]];

/** What a field may hold: must be zero, a register number 0..10, anything, or one of a list. */
export type Rule = 'zero' | 'reg' | 'any' | readonly number[];

export interface Form {
  /** Short name used in messages, after the kernel's ("BPF_ALU uses reserved fields"). */
  what: string;
  dst: Rule;
  src: Rule;
  off: Rule;
  imm: Rule;
  /** Cross-field rule the per-field table cannot express; returns the reason it fails. */
  extra?: (i: Insn) => string | undefined;
  build: (i: Insn) => Instruction;
}

/** Every valid opcode byte and its field rules. Codes absent from this table are invalid. */
export const FORMS: ReadonlyMap<number, Form> = buildForms();

function buildForms(): Map<number, Form> {
  const f = new Map<number, Form>();
  const def = (code: number, form: Form): void => { f.set(code, form); };
  const imm = (i: Insn): Operand => ({ type: 'imm', value: i.imm });
  const reg = (i: Insn): Operand => ({ type: 'reg', reg: i.src });

  for (const [cls, width] of [[BPF_ALU, 32], [BPF_ALU64, 64]] as const) {
    for (const [op, name] of ALU_OPS) {
      // DIV/MOD take off = 1 for the signed variants; MOV|X takes off = 8/16/32 for MOVSX.
      const divmod = op === BPF_DIV || op === BPF_MOD;
      const signedName: AluOp = op === BPF_DIV ? 'sdiv' : 'smod';
      const opName = (i: Insn): AluOp => (divmod && i.off === 1 ? signedName : name);
      def(cls | op | BPF_K, {
        what: 'BPF_ALU', dst: 'reg', src: 'zero', off: divmod ? [0, 1] : 'zero', imm: 'any',
        build: (i) => ({ kind: 'alu', width, op: opName(i), dst: i.dst, src: imm(i) }),
      });
      const movOffs = width === 64 ? [0, 8, 16, 32] : [0, 8, 16];
      def(cls | op | BPF_X, {
        what: 'BPF_ALU', dst: 'reg', src: 'reg', off: op === BPF_MOV ? movOffs : divmod ? [0, 1] : 'zero', imm: 'zero',
        build: (i) => (op === BPF_MOV && i.off !== 0
          ? { kind: 'movsx', width, bits: i.off as 8 | 16 | 32, dst: i.dst, src: i.src }
          : { kind: 'alu', width, op: opName(i), dst: i.dst, src: reg(i) }),
      });
    }
    def(cls | BPF_NEG | BPF_K, {
      what: 'BPF_NEG', dst: 'reg', src: 'zero', off: 'zero', imm: 'zero',
      build: (i) => ({ kind: 'neg', width, dst: i.dst }),
    });
  }
  const endian = (code: number, order: 'le' | 'be' | 'bswap'): void => def(code, {
    what: 'BPF_END', dst: 'reg', src: 'zero', off: 'zero', imm: [16, 32, 64],
    build: (i) => ({ kind: 'endian', order, bits: i.imm as 16 | 32 | 64, dst: i.dst }),
  });
  endian(BPF_ALU | BPF_END | BPF_TO_LE, 'le');
  endian(BPF_ALU | BPF_END | BPF_TO_BE, 'be');
  endian(BPF_ALU64 | BPF_END | BPF_TO_LE, 'bswap');

  for (const [sz, size] of SIZES) {
    def(BPF_LDX | BPF_MEM | sz, {
      what: 'BPF_LDX', dst: 'reg', src: 'reg', off: 'any', imm: 'zero',
      build: (i) => ({ kind: 'load', size, signed: false, dst: i.dst, src: i.src, off: i.off }),
    });
    if (size !== 8) {
      def(BPF_LDX | BPF_MEMSX | sz, {
        what: 'BPF_LDX', dst: 'reg', src: 'reg', off: 'any', imm: 'zero',
        build: (i) => ({ kind: 'load', size, signed: true, dst: i.dst, src: i.src, off: i.off }),
      });
      const pkt = size as 1 | 2 | 4;
      def(BPF_LD | BPF_ABS | sz, {
        what: 'BPF_LD_[ABS|IND]', dst: 'zero', src: 'zero', off: 'zero', imm: 'any',
        build: (i) => ({ kind: 'ldpkt', mode: 'abs', size: pkt, src: 0, imm: i.imm }),
      });
      def(BPF_LD | BPF_IND | sz, {
        what: 'BPF_LD_[ABS|IND]', dst: 'zero', src: 'reg', off: 'zero', imm: 'any',
        build: (i) => ({ kind: 'ldpkt', mode: 'ind', size: pkt, src: i.src, imm: i.imm }),
      });
    }
    def(BPF_ST | BPF_MEM | sz, {
      what: 'BPF_ST', dst: 'reg', src: 'zero', off: 'any', imm: 'any',
      build: (i) => ({ kind: 'store', size, dst: i.dst, off: i.off, src: imm(i) }),
    });
    def(BPF_STX | BPF_MEM | sz, {
      what: 'BPF_STX', dst: 'reg', src: 'reg', off: 'any', imm: 'zero',
      build: (i) => ({ kind: 'store', size, dst: i.dst, off: i.off, src: reg(i) }),
    });
    if (size === 4 || size === 8) {
      def(BPF_STX | BPF_ATOMIC | sz, {
        what: 'BPF_ATOMIC', dst: 'reg', src: 'reg', off: 'any', imm: ATOMIC_OPS.map(([v]) => v),
        build: (i) => {
          const [, op, fetch] = ATOMIC_OPS.find(([v]) => v === i.imm)!;
          return { kind: 'atomic', size, op, fetch, dst: i.dst, src: i.src, off: i.off };
        },
      });
    }
  }
  // The second slot is checked by decodeInstruction, which sees both.
  def(BPF_LD | BPF_IMM | BPF_DW, {
    what: 'BPF_LD_IMM64', dst: 'reg', src: [0, 1, 2, 3, 4, 5, 6], off: 'zero', imm: 'any',
    build: (i) => ({ kind: 'lddw', source: LDDW_SOURCES[i.src]!, dst: i.dst, imm: i.imm, next: 0 }),
  });

  for (const [cls, width] of [[BPF_JMP, 64], [BPF_JMP32, 32]] as const) {
    for (const [op, name] of JMP_OPS) {
      def(cls | op | BPF_K, {
        what: 'BPF_JMP/JMP32', dst: 'reg', src: 'zero', off: 'any', imm: 'any',
        build: (i) => ({ kind: 'jcond', width, op: name, dst: i.dst, src: imm(i), off: i.off }),
      });
      def(cls | op | BPF_X, {
        what: 'BPF_JMP/JMP32', dst: 'reg', src: 'reg', off: 'any', imm: 'zero',
        build: (i) => ({ kind: 'jcond', width, op: name, dst: i.dst, src: reg(i), off: i.off }),
      });
    }
  }
  def(BPF_JMP | BPF_JA, {
    what: 'BPF_JA', dst: 'zero', src: 'zero', off: 'any', imm: 'zero',
    build: (i) => ({ kind: 'ja', long: false, off: i.off }),
  });
  def(BPF_JMP32 | BPF_JA, {
    what: 'BPF_JA', dst: 'zero', src: 'zero', off: 'zero', imm: 'any',
    build: (i) => ({ kind: 'ja', long: true, off: i.imm }),
  });
  def(BPF_JMP | BPF_CALL, {
    what: 'BPF_CALL', dst: 'zero', src: [0, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL], off: 'any', imm: 'any',
    // Only kfunc calls use off (index of the module BTF fd in fd_array).
    extra: (i) => (i.src !== BPF_PSEUDO_KFUNC_CALL && i.off !== 0 ? `off must be 0 (is ${i.off})` : undefined),
    build: (i) => ({ kind: 'call', target: CALL_TARGETS[i.src]!, imm: i.imm, off: i.off }),
  });
  def(BPF_JMP | BPF_EXIT, {
    what: 'BPF_EXIT', dst: 'zero', src: 'zero', off: 'zero', imm: 'zero',
    build: () => ({ kind: 'exit' }),
  });
  return f;
}

function ruleFailure(field: string, rule: Rule, value: number): string | undefined {
  if (rule === 'any') return undefined;
  if (rule === 'zero') return value === 0 ? undefined : `${field} must be 0 (is ${value})`;
  if (rule === 'reg') return value >= 0 && value < MAX_BPF_REG ? undefined : `${field} R${value} is invalid`;
  return rule.includes(value) ? undefined : `${field} must be one of ${rule.join(', ')} (is ${value})`;
}

const fits = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
/** Hand-made Insn objects may hold anything; decoded ones always fit. */
const slotInRange = (i: Insn): boolean => fits(i.code, 0, 0xff) && fits(i.dst, 0, 15) && fits(i.src, 0, 15)
  && fits(i.off, -0x8000, 0x7fff) && fits(i.imm, -0x80000000, 0x7fffffff);

const hex2 = (code: number): string => `0x${code.toString(16).padStart(2, '0')}`;

/**
 * Decodes the instruction starting at `insns[index]`. Never throws: an encoding that the
 * kernel would reject (unknown opcode, reserved field not zero, lddw without a valid second
 * slot) gives `{ ok: false, reason }`.
 */
export function decodeInstruction(insns: readonly Insn[], index: number): Decoded {
  const i = insns[index];
  if (!i) return { ok: false, reason: `no instruction at index ${index}` };
  if (!slotInRange(i)) return { ok: false, reason: 'fields do not fit code u8, dst/src u4, off s16, imm s32' };
  const form = FORMS.get(i.code);
  if (!form) return { ok: false, reason: `unknown opcode ${hex2(i.code)}` };
  const bad = ruleFailure('dst_reg', form.dst, i.dst) ?? ruleFailure('src_reg', form.src, i.src)
    ?? ruleFailure('off', form.off, i.off) ?? ruleFailure('imm', form.imm, i.imm) ?? form.extra?.(i);
  if (bad) return { ok: false, reason: `${form.what} uses reserved fields: ${bad}` };
  const insn = form.build(i);
  if (insn.kind !== 'lddw') return { ok: true, insn, slots: 1 };

  const n = insns[index + 1];
  if (!n) return { ok: false, reason: 'invalid bpf_ld_imm64 insn: missing its second slot' };
  if (n.code !== 0 || n.dst !== 0 || n.src !== 0 || n.off !== 0) {
    return { ok: false, reason: 'invalid bpf_ld_imm64 insn: second slot must have code, dst, src and off 0' };
  }
  // The kernel rejects a non-zero upper half for map references; we also require it for
  // pseudo func (the kernel ignores it there) so that the text form stays exact.
  if (n.imm !== 0 && (insn.source === 'map_fd' || insn.source === 'map_idx' || insn.source === 'func')) {
    return { ok: false, reason: `unrecognized bpf_ld_imm64 insn: ${insn.source} needs second slot imm 0 (is ${n.imm})` };
  }
  return { ok: true, insn: { ...insn, next: n.imm }, slots: 2 };
}

const sizeBits = (size: Size): number => SIZES.find(([, s]) => s === size)![0];
const operandFields = (src: Operand): { x: number; src: number; imm: number } =>
  (src.type === 'reg' ? { x: BPF_X, src: src.reg, imm: 0 } : { x: BPF_K, src: 0, imm: src.value });

/** Encodes a typed instruction into its slots (two for lddw). The exact inverse of decodeInstruction. */
export function encodeInstruction(ins: Instruction): Insn[] {
  const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm: imm | 0 });
  switch (ins.kind) {
    case 'alu': {
      const cls = ins.width === 64 ? BPF_ALU64 : BPF_ALU;
      const signed = ins.op === 'sdiv' || ins.op === 'smod';
      const base = ins.op === 'sdiv' ? 'div' : ins.op === 'smod' ? 'mod' : ins.op;
      const op = ALU_OPS.find(([, n]) => n === base)![0];
      const s = operandFields(ins.src);
      return [slot(cls | op | s.x, ins.dst, s.src, signed ? 1 : 0, s.imm)];
    }
    case 'neg': return [slot((ins.width === 64 ? BPF_ALU64 : BPF_ALU) | BPF_NEG, ins.dst)];
    case 'movsx': return [slot((ins.width === 64 ? BPF_ALU64 : BPF_ALU) | BPF_MOV | BPF_X, ins.dst, ins.src, ins.bits)];
    case 'endian': {
      const code = ins.order === 'bswap' ? BPF_ALU64 | BPF_END : BPF_ALU | BPF_END | (ins.order === 'be' ? BPF_TO_BE : BPF_TO_LE);
      return [slot(code, ins.dst, 0, 0, ins.bits)];
    }
    case 'load': return [slot(BPF_LDX | (ins.signed ? BPF_MEMSX : BPF_MEM) | sizeBits(ins.size), ins.dst, ins.src, ins.off)];
    case 'store': {
      const cls = ins.src.type === 'reg' ? BPF_STX : BPF_ST;
      const s = operandFields(ins.src);
      return [slot(cls | BPF_MEM | sizeBits(ins.size), ins.dst, s.src, ins.off, s.imm)];
    }
    case 'atomic': {
      const imm = ATOMIC_OPS.find(([, op, fetch]) => op === ins.op && fetch === ins.fetch)?.[0];
      if (imm === undefined) throw new SeccompEbpfError('ERR_INSN_INVALID', `atomic ${ins.op} without fetch does not exist`);
      return [slot(BPF_STX | BPF_ATOMIC | sizeBits(ins.size), ins.dst, ins.src, ins.off, imm)];
    }
    case 'lddw':
      return [slot(BPF_LD | BPF_IMM | BPF_DW, ins.dst, LDDW_SOURCES.indexOf(ins.source), 0, ins.imm), slot(0, 0, 0, 0, ins.next)];
    case 'ldpkt':
      return [slot(BPF_LD | (ins.mode === 'abs' ? BPF_ABS : BPF_IND) | sizeBits(ins.size), 0, ins.src, 0, ins.imm)];
    case 'ja': return [ins.long ? slot(BPF_JMP32 | BPF_JA, 0, 0, 0, ins.off) : slot(BPF_JMP | BPF_JA, 0, 0, ins.off)];
    case 'jcond': {
      const op = JMP_OPS.find(([, n]) => n === ins.op)![0];
      const s = operandFields(ins.src);
      return [slot((ins.width === 64 ? BPF_JMP : BPF_JMP32) | op | s.x, ins.dst, s.src, ins.off, s.imm)];
    }
    case 'call': return [slot(BPF_JMP | BPF_CALL, 0, CALL_TARGETS.indexOf(ins.target), ins.off, ins.imm)];
    case 'exit': return [slot(BPF_JMP | BPF_EXIT)];
  }
}

/** The 64-bit constant of a plain lddw (`next << 32 | imm` as unsigned), as a signed bigint. */
export function lddwValue(ins: { imm: number; next: number }): bigint {
  return BigInt.asIntN(64, (BigInt(ins.next) << 32n) | BigInt(ins.imm >>> 0));
}

/** Splits a 64-bit constant (signed or unsigned form) into lddw's two imm fields. */
export function lddwSplit(value: bigint): { imm: number; next: number } {
  const u = BigInt.asUintN(64, value);
  return { imm: Number(BigInt.asIntN(32, u)), next: Number(BigInt.asIntN(32, u >> 32n)) };
}

/**
 * The slot index a jump, a local call or a pseudo-func lddw refers to (`index + 1 + offset`),
 * or undefined for other instructions.
 */
export function branchTarget(ins: Instruction, index: number): number | undefined {
  switch (ins.kind) {
    case 'ja': case 'jcond': return index + 1 + ins.off;
    case 'call': return ins.target === 'local' ? index + 1 + ins.imm : undefined;
    case 'lddw': return ins.source === 'func' ? index + 1 + ins.imm : undefined;
    default: return undefined;
  }
}

/**
 * Checks the instruction starting at `insns[index]` the way the kernel does before any data
 * flow analysis: the encoding rules of decodeInstruction, plus division by a zero immediate
 * ("div by zero") and immediate shifts outside 0..width-1 ("invalid shift").
 * Returns the decoded instruction. Throws ERR_INSN_INVALID with the instruction index.
 */
export function checkInsn(insns: readonly Insn[], index: number): { insn: Instruction; slots: 1 | 2 } {
  const d = decodeInstruction(insns, index);
  const fail = (reason: string): never => {
    throw new SeccompEbpfError('ERR_INSN_INVALID', `invalid instruction: ${reason}`, { insn: index });
  };
  if (!d.ok) return fail(d.reason);
  const ins = d.insn;
  if (ins.kind === 'alu' && ins.src.type === 'imm') {
    if ((ins.op === 'div' || ins.op === 'sdiv' || ins.op === 'mod' || ins.op === 'smod') && ins.src.value === 0) fail('div by zero');
    if ((ins.op === 'lsh' || ins.op === 'rsh' || ins.op === 'arsh') && (ins.src.value < 0 || ins.src.value >= ins.width)) {
      fail(`invalid shift ${ins.src.value}`);
    }
  }
  return { insn: ins, slots: d.slots };
}

/**
 * Checks a whole program the way the kernel does before walking it (check_subprogs):
 *  - every instruction with checkInsn;
 *  - every jump, local call and pseudo-func target lies inside the program and not on the
 *    second slot of an lddw;
 *  - local call and pseudo-func targets start subprograms; a jump stays inside its own
 *    subprogram, and each subprogram ends with exit or an unconditional jump.
 * Throws ERR_INSN_INVALID naming the first offending instruction index.
 */
export function validateEncoding(insns: readonly Insn[]): void {
  const fail = (index: number, reason: string): never => {
    throw new SeccompEbpfError('ERR_INSN_INVALID', `invalid program: ${reason}`, { insn: index });
  };
  if (insns.length === 0) fail(0, 'empty program');
  const decoded: Array<{ index: number; insn: Instruction }> = [];
  const secondSlots = new Set<number>();
  for (let i = 0; i < insns.length;) {
    const { insn, slots } = checkInsn(insns, i);
    decoded.push({ index: i, insn });
    if (slots === 2) secondSlots.add(i + 1);
    i += slots;
  }
  const starts = new Set<number>([0]);
  for (const { index, insn } of decoded) {
    const target = branchTarget(insn, index);
    if (target === undefined) continue;
    if (target < 0 || target >= insns.length) fail(index, `jump out of range from insn ${index} to ${target}`);
    if (secondSlots.has(target)) fail(index, `jump from insn ${index} into the middle of ldimm64 insn ${target - 1}`);
    if (insn.kind !== 'ja' && insn.kind !== 'jcond') starts.add(target);
  }
  const bounds = [...starts].sort((a, b) => a - b);
  bounds.push(insns.length);
  /** End (exclusive) of the subprogram holding slot i. */
  const endOf = (i: number): number => bounds.find((b) => b > i)!;
  for (const { index, insn } of decoded) {
    if (insn.kind !== 'ja' && insn.kind !== 'jcond') continue;
    const target = index + 1 + insn.off;
    const end = endOf(index);
    if (target >= end || target < bounds[bounds.indexOf(end) - 1]!) fail(index, `jump out of range from insn ${index} to ${target}`);
  }
  for (const end of bounds.slice(1)) {
    const last = insns[end - 1];
    const code = last?.code;
    if (code !== (BPF_JMP | BPF_EXIT) && code !== (BPF_JMP | BPF_JA) && code !== (BPF_JMP32 | BPF_JA)) {
      fail(end - 1, `last insn is not an exit or jmp (insn ${end - 1})`);
    }
  }
}

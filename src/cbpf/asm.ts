/**
 * @module cbpf/asm
 * Assembles classic BPF from text. One statement per line, in either of two dialects that may
 * be mixed:
 *
 * The kernel's bpf_asm syntax (tools/bpf/bpf_asm; Documentation/networking/filter.rst), which
 * the disassembler prints:
 *   ld [4]  ldh [k]  ldb [k]  ld [x + k]  ld #k  ldi #k  ld #len  ld M[3]
 *   ldx #k  ldxi #k  ldx #len  ldx M[3]  ldx 4*([k]&0xf)  ldxb 4*([k]&0xf)  st M[3]  stx M[3]
 *   add/sub/mul/div/mod/and/or/xor/lsh/rsh #k | x      neg  tax  txa
 *   ja L  jmp L      jeq/jgt/jge/jset #k|x, Lt[, Lf]      jne/jneq/jlt/jle #k|x, L[, L2]
 *   ret #k  ret a  ret x  ret ALLOW  ret ERRNO(1)      .raw code, jt, jf, k
 * `x` and `a` may be written `%x`, `%a`. A jump target is a label, `next`, or a number: the
 * number of instructions to skip (`jeq #39, 1, 0`). With one target the other is the next
 * instruction (`jne #k, L` jumps to L when A != k).
 *
 * The seccomp-tools syntax (`A = arch`, `if (A != ARCH_X86_64) goto 0010`, `return ALLOW`,
 * see ./asm-pseudo.ts), and `seccomp-tools disasm` output as is: its header is skipped and each
 * `0000: 0x20 0x00 0x00 0x00000004  A = arch` line is taken from its raw columns.
 *
 * `name:` defines a label (also before a statement on the same line). Comments: `;`, `//`,
 * `/* ... *\/`, and lines starting with `#` (seccomp-tools). Numbers: decimal (leading zeros
 * stay decimal), 0x hex, 0b binary, optional `-`.
 * Not supported: bpf_asm's socket extensions (`ld #proto`, `ld rand`...) since seccomp refuses
 * them; write `.raw` if needed.
 *
 * `.raw` and seccomp-tools dump lines are copied verbatim (their jump offsets are not adjusted).
 * A conditional jump farther than 255 instructions is ERR_CBPF_JUMP_RANGE, unless
 * `{ trampolines: true }` lowers it through ./builder.ts.
 */
import { SeccompEbpfError } from '../errors.js';
import { cinsn, type CInsn } from './insn.js';
import { ClassicBuilder } from './builder.js';
import { OP, ALU_OPS, JMP_OPS } from './opcodes.js';
import { Line, type AsmStmt, type AsmTarget } from './asm-lex.js';
import { isPseudoStatement, parsePseudo, parseTernary, returnValue } from './asm-pseudo.js';
import {
  BPF_ALU, BPF_JMP, BPF_K, BPF_X, BPF_NEG, BPF_LD, BPF_LDX, BPF_W, BPF_H, BPF_B, BPF_ABS, BPF_IND, BPF_RET, BPF_MSH,
} from '../abi/cbpf.js';

export interface ClassicAsmOptions {
  /** File name for error locations. */
  file?: string;
  /** Lower conditional jumps beyond 255 instructions through JA trampolines (default false: error). */
  trampolines?: boolean;
}

interface Placed {
  stmt: AsmStmt;
  line: Line;
}

const DUMP_LINE = /^\s*\d+:\s+0x([0-9a-fA-F]{2})\s+0x([0-9a-fA-F]{2})\s+0x([0-9a-fA-F]{2})\s+0x([0-9a-fA-F]{8})\b/;
const DUMP_HEADER = /^\s*(line\s+CODE\s+JT\s+JF\s+K|=+)\s*$/;
const LABEL = /^\s*([A-Za-z_.$][\w.$]*)\s*:(?!=)/;

/**
 * Assembles `text`. Throws ERR_CBPF_ASM_SYNTAX (line and column), ERR_CBPF_ASM_LABEL
 * (undefined or duplicate label, a target that is not forward, or past the end) and
 * ERR_CBPF_JUMP_RANGE (a conditional jump that does not fit 8 bits, without trampolines).
 */
export function assembleClassic(text: string, opts: ClassicAsmOptions = {}): CInsn[] {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  for (const key of Object.keys(opts)) if (key !== 'file' && key !== 'trampolines') throw new TypeError(`unknown option '${key}'`);
  const placed: Placed[] = [];
  const labels = new Map<string, { at: number; line: number }>();
  let inComment = false;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    let src: string;
    [src, inComment] = stripComments(raw, inComment);
    if (DUMP_HEADER.test(src)) return;
    const dump = DUMP_LINE.exec(src);
    if (dump) {
      const [c, jt, jf, k] = dump.slice(1).map((h) => parseInt(h!, 16)) as [number, number, number, number];
      placed.push({ stmt: { kind: 'raw', ins: cinsn(c, k, jt, jf) }, line: new Line('', lineNo, opts.file) });
      return;
    }
    let col = 0;
    for (let m = LABEL.exec(src.slice(col)); m && !isTernaryTail(src, col + m[0].length); m = LABEL.exec(src.slice(col))) {
      const name = m[1]!;
      const prev = labels.get(name);
      if (prev) {
        throw new SeccompEbpfError('ERR_CBPF_ASM_LABEL', `label '${name}' already defined on line ${prev.line}`,
          where(opts.file, lineNo, col + m[0].indexOf(name) + 1));
      }
      labels.set(name, { at: placed.length, line: lineNo });
      col += m[0].length;
    }
    const line = new Line(src, lineNo, opts.file, col);
    if (line.peek().kind === 'end') return;
    placed.push({ stmt: parseStatement(line), line });
  });
  if (inComment) throw new SeccompEbpfError('ERR_CBPF_ASM_SYNTAX', 'unterminated /* comment', where(opts.file, text.split('\n').length, 1));
  return build(placed, labels, opts);
}

function where(file: string | undefined, line: number, column: number): { file?: string; line: number; column: number } {
  return file !== undefined ? { file, line, column } : { line, column };
}

/** `A == 1 ? a : b` must not be read as the label `b`... nor `x ? a : b` as a label `a`. */
function isTernaryTail(src: string, end: number): boolean {
  return src.slice(0, end).includes('?');
}

function stripComments(raw: string, inComment: boolean): [string, boolean] {
  if (!inComment && /^\s*#/.test(raw)) return ['', false]; // seccomp-tools comment line
  let out = '';
  let i = 0;
  while (i < raw.length) {
    if (inComment) {
      const e = raw.indexOf('*/', i);
      if (e < 0) return [out, true];
      out += ' '.repeat(e + 2 - i); // keep columns
      i = e + 2;
      inComment = false;
    } else if (raw.startsWith('/*', i)) {
      inComment = true;
    } else if (raw[i] === ';' || raw.startsWith('//', i)) {
      break;
    } else {
      out += raw[i];
      i++;
    }
  }
  return [out.replace(/\r$/, ''), inComment];
}

function parseStatement(l: Line): AsmStmt {
  const ternary = parseTernary(l);
  if (ternary) return ternary;
  if (isPseudoStatement(l)) return parsePseudo(l);
  const t = l.next();
  if (t.kind !== 'id') throw l.error(`expected an instruction, found '${t.text}'`, t.col);
  const s = parseMnemonic(l, t.text.toLowerCase(), t.col);
  l.expectEnd();
  return s;
}

const insn = (code: number, k = 0): AsmStmt => ({ kind: 'insn', ins: cinsn(code, k) });
const ALU_BY_NAME = new Map(ALU_OPS.map(([op, m]) => [m, op]));
const JMP_BY_NAME = new Map(JMP_OPS.map(([op, m]) => [m, op]));
/** Negated forms: mnemonic -> (base op, targets swapped). */
const JMP_NEGATED = new Map<string, number>([['jne', OP.JEQ_K], ['jneq', OP.JEQ_K], ['jlt', OP.JGE_K], ['jle', OP.JGT_K]]);
const SIZE_BY_NAME = new Map([['ld', BPF_W], ['ldh', BPF_H], ['ldb', BPF_B]]);

function parseMnemonic(l: Line, m: string, col: number): AsmStmt {
  switch (m) {
    case 'ld': case 'ldh': case 'ldb': {
      const size = SIZE_BY_NAME.get(m)!;
      if (l.peek().text === '[') return packetLoad(l, size);
      if (m !== 'ld') throw l.error(`${m} takes [k] or [x + k]`, l.peek().col);
      if (l.accept('M')) return insn(OP.LD_MEM, memIndex(l));
      if (l.accept('len') || (l.peek().text === '#' && l.peek(1).text === 'len' && (l.next(), l.next()))) return insn(OP.LD_LEN);
      l.expect('#');
      return insn(OP.LD_IMM, l.u32());
    }
    case 'ldi': l.accept('#'); return insn(OP.LD_IMM, l.u32());
    case 'ldxi': l.accept('#'); return insn(OP.LDX_IMM, l.u32());
    case 'ldx': case 'ldxb': {
      if (l.peek().kind === 'num') return msh(l);
      if (m === 'ldxb') throw l.error('ldxb takes 4*([k]&0xf)', l.peek().col);
      if (l.accept('M')) return insn(OP.LDX_MEM, memIndex(l));
      if (l.accept('len') || (l.peek().text === '#' && l.peek(1).text === 'len' && (l.next(), l.next()))) return insn(OP.LDX_LEN);
      l.expect('#');
      return insn(OP.LDX_IMM, l.u32());
    }
    case 'st': case 'stx':
      l.expect('M');
      return insn(m === 'st' ? OP.ST : OP.STX, memIndex(l));
    case 'neg': return insn(BPF_ALU | BPF_NEG);
    case 'tax': return insn(OP.TAX);
    case 'txa': return insn(OP.TXA);
    case 'ret': {
      if (isReg(l, 'a')) return insn(OP.RET_A);
      if (isReg(l, 'x')) return insn(BPF_RET | BPF_X);
      l.accept('#');
      return insn(OP.RET_K, returnValue(l));
    }
    case 'ja': case 'jmp': return { kind: 'ja', t: target(l) };
    case '.raw': {
      const code = l.u32('an opcode'); l.expect(',');
      const jt = l.u32('jt'); l.expect(',');
      const jf = l.u32('jf'); l.expect(',');
      const k = l.u32('k');
      if (code > 0xffff || jt > 0xff || jf > 0xff) throw l.error('.raw: code is 16 bits, jt and jf 8 bits', col);
      return { kind: 'raw', ins: cinsn(code, k, jt, jf) };
    }
  }
  const alu = ALU_BY_NAME.get(m);
  if (alu !== undefined) {
    if (isReg(l, 'x')) return insn(BPF_ALU | alu | BPF_X);
    l.expect('#');
    return insn(BPF_ALU | alu | BPF_K, l.u32());
  }
  const jmp = JMP_BY_NAME.get(m);
  const neg = JMP_NEGATED.get(m);
  if (jmp !== undefined || neg !== undefined) {
    let code = jmp !== undefined ? BPF_JMP | jmp : neg!;
    let k = 0;
    if (isReg(l, 'x')) code |= BPF_X;
    else { l.expect('#'); k = l.u32(); }
    l.expect(',');
    const first = target(l);
    const second: AsmTarget = l.accept(',') ? target(l) : { kind: 'next', col: l.peek().col };
    return neg !== undefined ? { kind: 'cond', code, k, t: second, f: first } : { kind: 'cond', code, k, t: first, f: second };
  }
  throw l.error(`unknown instruction '${m}'`, col);
}

function isReg(l: Line, r: 'a' | 'x'): boolean {
  const t = l.peek(), u = l.peek(1);
  if (t.text === '%' && u.text.toLowerCase() === r) { l.next(); l.next(); return true; }
  return l.accept(r);
}

function memIndex(l: Line): number {
  l.expect('[');
  const k = l.u32('a scratch memory index');
  l.expect(']');
  return k;
}

/** `[k]` or `[x + k]` / `[%x + k]` / `[x]`. */
function packetLoad(l: Line, size: number): AsmStmt {
  l.expect('[');
  if (isReg(l, 'x')) {
    const k = l.accept('+') ? l.u32() : 0;
    l.expect(']');
    return insn(BPF_LD | size | BPF_IND, k);
  }
  const k = l.u32('an offset');
  l.expect(']');
  return insn(BPF_LD | size | BPF_ABS, k);
}

/** `4*([k]&0xf)`. */
function msh(l: Line): AsmStmt {
  const four = l.peek();
  if (l.u32() !== 4) throw l.error('expected 4*([k]&0xf)', four.col);
  l.expect('*'); l.expect('('); l.expect('[');
  const k = l.u32('an offset');
  l.expect(']'); l.expect('&');
  const mask = l.peek();
  if (l.u32() !== 0xf) throw l.error('expected 4*([k]&0xf)', mask.col);
  l.expect(')');
  return insn(BPF_LDX | BPF_B | BPF_MSH, k);
}

function target(l: Line): AsmTarget {
  const t = l.next();
  if (t.kind === 'num') return { kind: 'rel', n: Number(t.value!), col: t.col };
  if (t.kind === 'id') return t.text === 'next' ? { kind: 'next', col: t.col } : { kind: 'label', name: t.text, col: t.col };
  throw l.error(`expected a jump target, found '${t.text}'`, t.col);
}

function build(placed: Placed[], labels: Map<string, { at: number; line: number }>, opts: ClassicAsmOptions): CInsn[] {
  const b = new ClassicBuilder({ trampolines: opts.trampolines ?? false });
  const resolve = (t: AsmTarget, i: number, line: Line): number => {
    let to: number;
    let name: string;
    switch (t.kind) {
      case 'next': {
        const l = labels.get('next'); // a label called `next` wins
        to = l ? l.at : i + 1; name = l ? "label 'next'" : 'next';
        break;
      }
      case 'rel': to = i + 1 + t.n; name = `+${t.n}`; break;
      case 'abs': to = t.n; name = `instruction ${t.n}`; break;
      case 'label': {
        const l = labels.get(t.name);
        if (!l) throw new SeccompEbpfError('ERR_CBPF_ASM_LABEL', `undefined label '${t.name}'`, line.where(t.col));
        to = l.at; name = `label '${t.name}'`;
      }
    }
    if (to <= i) throw new SeccompEbpfError('ERR_CBPF_ASM_LABEL', `${name} is not after the jump (classic BPF jumps forward only)`, line.where(t.col));
    if (to >= placed.length) throw new SeccompEbpfError('ERR_CBPF_ASM_LABEL', `${name} is past the last instruction`, line.where(t.col));
    return to;
  };
  placed.forEach(({ stmt, line }, i) => {
    switch (stmt.kind) {
      case 'insn': b.emit(stmt.ins); break;
      case 'raw': b.raw(stmt.ins); break;
      case 'ja': b.ja(resolve(stmt.t, i, line)); break;
      case 'cond': b.jump(stmt.code, stmt.k, resolve(stmt.t, i, line), resolve(stmt.f, i, line)); break;
    }
  });
  try {
    return b.build();
  } catch (e) {
    if (e instanceof SeccompEbpfError && e.code === 'ERR_CBPF_JUMP_RANGE' && e.location?.insn !== undefined) {
      const line = placed[e.location.insn]!.line;
      throw new SeccompEbpfError('ERR_CBPF_JUMP_RANGE',
        `${e.message.replace(/ \(insn \d+\)$/, '')}; write a shorter jump or assemble with trampolines`, { ...line.where(1), insn: e.location.insn });
    }
    throw e;
  }
}

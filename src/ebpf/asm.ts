/**
 * @module ebpf/asm
 * Assembler for the text the disassembler (ebpf/disasm) prints: llvm-objdump's BPF syntax plus
 * the spellings documented there for pseudo calls, map references, kfuncs and raw slots.
 *
 * One instruction per line. Comments start with `;`, `#` or `//`. `name:` defines a label at
 * the next instruction; `goto name`, `gotol name`, `if ... goto name`, `call name` (a local,
 * bpf-to-bpf call) and `r1 = func name ll` refer to one. Numbers are decimal or 0x hex, with an
 * optional sign. llvm-objdump -d output can be pasted as is: section and symbol headers,
 * relocation lines and `<label>` suffixes are skipped, the `N:` index and the raw bytes columns
 * are stripped. When the bytes column is there it is checked against the text (`<unknown>`
 * takes the bytes as they are, and llvm's `call N` takes the call kind from the bytes, since llvm
 * prints helper and local calls alike).
 *
 * Immediates must keep their meaning: a 64-bit operation sign-extends its 32-bit immediate, so
 * `r1 = 0xffffffff` is a range error (write `r1 = 0xffffffff ll`), while 32-bit operations
 * accept -2^31 .. 2^32-1.
 */
import { SeccompEbpfError } from '../errors.js';
import { decodeInsns } from './codec.js';
import type { Insn } from './insn.js';
import {
  decodeInstruction, encodeInstruction, lddwSplit,
  type AluOp, type AtomicOp, type Instruction, type JmpOp, type LddwSource, type Operand, type Size, type Width,
} from './opcodes.js';

export interface AsmOptions {
  /** File name for error locations. */
  file?: string;
}

interface Tok {
  kind: 'id' | 'num' | 'punct' | 'end';
  text: string;
  /** 1-based column in the source line. */
  col: number;
  value?: bigint;
}

/** A parsed statement: its size in slots and how to encode it once labels are known. */
interface Stmt {
  slots: 1 | 2;
  emit: (pc: number, resolve: (label: Tok) => number) => Insn[];
}

const PUNCT = ['<<=', '>>=', '+=', '-=', '*=', '/=', '%=', '|=', '&=', '^=', '==', '!=', '>=', '<=',
  '<', '>', '=', '+', '-', '*', '(', ')', '[', ']', ',', '&'];
const SIGNED_OPS = /^s(>>=|\/=|%=|>=|<=|>|<)/;
const ALU_OPS = new Map<string, AluOp>([
  ['+=', 'add'], ['-=', 'sub'], ['*=', 'mul'], ['/=', 'div'], ['s/=', 'sdiv'], ['|=', 'or'], ['&=', 'and'],
  ['<<=', 'lsh'], ['>>=', 'rsh'], ['%=', 'mod'], ['s%=', 'smod'], ['^=', 'xor'], ['s>>=', 'arsh'],
]);
const JMP_OPS = new Map<string, JmpOp>([
  ['==', 'jeq'], ['>', 'jgt'], ['>=', 'jge'], ['&', 'jset'], ['!=', 'jne'], ['s>', 'jsgt'], ['s>=', 'jsge'],
  ['<', 'jlt'], ['<=', 'jle'], ['s<', 'jslt'], ['s<=', 'jsle'],
]);
const LOCK_OPS = new Map<string, AtomicOp>([['+=', 'add'], ['|=', 'or'], ['&=', 'and'], ['^=', 'xor']]);
const LDDW_NAMES = new Map<string, LddwSource>([
  ['map', 'map_fd'], ['map_value', 'map_value'], ['map_idx', 'map_idx'], ['map_idx_value', 'map_idx_value'], ['btf_id', 'btf_id'],
]);
const RESERVED_LABELS = new Set(['pc', 'kfunc', 'func']);
const REG_RE = /^([rw])(10|[0-9])$/;
const LABEL_RE = /^\s*([A-Za-z_.$][\w.$]*)\s*:(?!=)/;

const S16: [bigint, bigint] = [-(2n ** 15n), 2n ** 15n - 1n];
const S32: [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const U32_OR_S32: [bigint, bigint] = [-(2n ** 31n), 2n ** 32n - 1n];
const U64_OR_S64: [bigint, bigint] = [-(2n ** 63n), 2n ** 64n - 1n];

/**
 * Assembles text into instruction slots.
 * Throws ERR_ASM_SYNTAX (with line, column and the offending token), ERR_ASM_RANGE (a number
 * or jump distance that does not fit its field) or ERR_ASM_LABEL (undefined or duplicate label).
 */
export function assemble(text: string, opts: AsmOptions = {}): Insn[] {
  const stmts: Stmt[] = [];
  const labels = new Map<string, number>();
  let pc = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = new Line(raw, i + 1, opts.file);
    for (const label of line.labels) {
      if (labels.has(label.text)) line.fail('ERR_ASM_LABEL', label, `duplicate label '${label.text}'`);
      labels.set(label.text, pc);
    }
    const stmt = line.parse();
    if (stmt) {
      stmts.push(stmt);
      pc += stmt.slots;
    }
  });
  const out: Insn[] = [];
  for (const stmt of stmts) {
    out.push(...stmt.emit(out.length, (tok) => {
      const at = labels.get(tok.text);
      if (at === undefined) throw tokError('ERR_ASM_LABEL', (tok as LabelTok).where, tok, `undefined label '${tok.text}'`);
      return at;
    }));
  }
  return out;
}

const sameSlot = (a: Insn, b: Insn): boolean =>
  a.code === b.code && a.dst === b.dst && a.src === b.src && a.off === b.off && a.imm === b.imm;

/** True when llvm-objdump prints `bytes` as the text that assembled to `text` (see checkBytes). */
function llvmLossy(text: Insn, bytes: Insn): boolean {
  const d = decodeInstruction([bytes], 0);
  if (!d.ok) return false;
  const k = d.insn.kind;
  if (k === 'call' && text.src === 0) return sameSlot({ ...text, src: bytes.src, off: bytes.off }, bytes);
  if (k === 'atomic' && bytes.code === 0xc3 && text.imm === 0) return sameSlot({ ...text, imm: bytes.imm }, bytes);
  if (k === 'ldpkt' && text.imm === 0) return sameSlot({ ...text, imm: bytes.imm }, bytes);
  return false;
}

interface LabelTok extends Tok { where: { file?: string; line: number } }

function tokError(code: string, where: { file?: string; line: number }, tok: Tok, msg: string): SeccompEbpfError {
  const shown = tok.kind === 'end' ? 'end of line' : `'${tok.text}'`;
  return new SeccompEbpfError(code, `${msg} at ${shown}`, { file: where.file, line: where.line, column: tok.col });
}

/** One source line: objdump decorations removed, labels split off, tokens, and the parser. */
class Line {
  readonly labels: Tok[] = [];
  private toks: Tok[] = [{ kind: 'end', text: '', col: 1 }];
  private pos = 0;
  /** Raw bytes from an llvm-objdump hex column, when present. */
  private bytes: Uint8Array | undefined;
  private unknown = false;
  private readonly where: { file?: string; line: number };

  constructor(raw: string, line: number, file?: string) {
    this.where = { file, line };
    let body = raw;
    let base = 0;
    const cut = (n: number): void => { body = body.slice(n); base += n; };
    if (/^\s*Disassembly of section .*:\s*$/.test(body) || /^\S+:\s+file format \S+\s*$/.test(body)
      || /^\s*[0-9a-fA-F]+\s+<[^>]*>:\s*$/.test(body) || /^\s*[0-9a-fA-F]+:\s+R_[A-Z0-9_]+/.test(body)) {
      return;
    }
    const index = /^\s*\d+:\s+/.exec(body);
    if (index) {
      cut(index[0].length);
      const hex = /^((?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?)(?:\s+|$)/.exec(body);
      if (hex) {
        this.bytes = Uint8Array.from(hex[1]!.split(' '), (b) => parseInt(b, 16));
        cut(hex[0].length);
      }
    }
    const comment = /;|#|\/\//.exec(body);
    if (comment) body = body.slice(0, comment.index);
    if (this.bytes && body.trim() === '<unknown>') { this.unknown = true; return; }
    body = body.replace(/\s<[^<>]*>\s*$/, ''); // llvm-objdump's `goto +2 <LBB0_2>`
    for (let m = LABEL_RE.exec(body); m; m = LABEL_RE.exec(body)) {
      const tok: Tok = { kind: 'id', text: m[1]!, col: base + m[0].indexOf(m[1]!) + 1 };
      if (REG_RE.test(tok.text) || RESERVED_LABELS.has(tok.text)) this.fail('ERR_ASM_SYNTAX', tok, `'${tok.text}' cannot be a label`);
      this.labels.push(tok);
      cut(m[0].length);
    }
    this.toks = this.tokenize(body, base);
  }

  fail(code: string, tok: Tok, msg: string): never {
    throw tokError(code, this.where, tok, msg);
  }

  private tokenize(s: string, base: number): Tok[] {
    const toks: Tok[] = [];
    let i = 0;
    while (i < s.length) {
      const rest = s.slice(i);
      const ws = /^\s+/.exec(rest);
      if (ws) { i += ws[0].length; continue; }
      const col = base + i + 1;
      const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)(?![\w.$])/.exec(rest);
      if (m) {
        toks.push({ kind: 'num', text: m[0], col, value: BigInt(m[0]) });
      } else if (/^[0-9]/.test(rest)) {
        this.fail('ERR_ASM_SYNTAX', { kind: 'punct', text: /^[\w.$]+/.exec(rest)![0], col }, 'malformed number');
      } else if (SIGNED_OPS.test(rest)) {
        toks.push({ kind: 'punct', text: SIGNED_OPS.exec(rest)![0], col });
      } else if (/^[A-Za-z_.$]/.test(rest)) {
        toks.push({ kind: 'id', text: /^[A-Za-z_.$][\w.$]*/.exec(rest)![0], col });
      } else {
        const p = PUNCT.find((q) => rest.startsWith(q));
        if (!p) this.fail('ERR_ASM_SYNTAX', { kind: 'punct', text: rest[0]!, col }, 'unexpected character');
        toks.push({ kind: 'punct', text: p, col });
      }
      i += toks[toks.length - 1]!.text.length;
    }
    toks.push({ kind: 'end', text: '', col: base + s.trimEnd().length + 1 });
    return toks;
  }

  // ---- token cursor ----
  private peek(k = 0): Tok { return this.toks[Math.min(this.pos + k, this.toks.length - 1)]!; }
  private next(): Tok { const t = this.peek(); if (t.kind !== 'end') this.pos++; return t; }
  private is(text: string, k = 0): boolean { const t = this.peek(k); return t.kind !== 'end' && t.text === text; }
  private accept(text: string): boolean { if (this.is(text)) { this.pos++; return true; } return false; }
  private expect(text: string): Tok {
    if (!this.is(text)) this.fail('ERR_ASM_SYNTAX', this.peek(), `expected '${text}'`);
    return this.next();
  }
  private end(): void { if (this.peek().kind !== 'end') this.fail('ERR_ASM_SYNTAX', this.peek(), 'unexpected token'); }

  private reg(width?: Width): { n: number; width: Width; tok: Tok } {
    const tok = this.peek();
    const m = tok.kind === 'id' ? REG_RE.exec(tok.text) : null;
    if (!m) this.fail('ERR_ASM_SYNTAX', tok, width === 32 ? 'expected a register wN' : width === 64 ? 'expected a register rN' : 'expected a register');
    const w: Width = m[1] === 'r' ? 64 : 32;
    if (width !== undefined && w !== width) this.fail('ERR_ASM_SYNTAX', tok, `expected a register ${width === 64 ? 'rN' : 'wN'}`);
    this.pos++;
    return { n: Number(m[2]), width: w, tok };
  }

  /** A number with an optional sign, checked against [lo, hi]. */
  private num([lo, hi]: [bigint, bigint], what: string): number {
    const value = this.bignum();
    if (value < lo || value > hi) this.fail('ERR_ASM_RANGE', this.peek(-1), `${what} ${value} out of range ${lo}..${hi}`);
    return Number(BigInt.asIntN(32, value));
  }
  private bignum(): bigint {
    const sign = this.is('-') ? -1n : 1n;
    if (this.is('-') || this.is('+')) this.pos++;
    const t = this.peek();
    if (t.kind !== 'num') this.fail('ERR_ASM_SYNTAX', t, 'expected a number');
    this.pos++;
    return sign * t.value!;
  }
  private isNumber(): boolean {
    return this.peek().kind === 'num' || ((this.is('-') || this.is('+')) && this.peek(1).kind === 'num');
  }

  /** Immediate of an ALU/JMP/store operation of the given width (64: sign-extended s32). */
  private imm(width: Width): number {
    const neg = this.is('-');
    const v = this.num(U32_OR_S32, 'immediate');
    const t = this.peek(-1);
    if (width === 64 && !neg && t.value! > S32[1]) {
      this.fail('ERR_ASM_RANGE', t, `immediate ${t.value} does not fit a sign-extended 32-bit field (use lddw: 'rN = ${t.text} ll')`);
    }
    return v;
  }

  /** `rN + off` / `rN - off` inside an address. */
  private address(): { base: number; off: number } {
    const base = this.reg(64).n;
    const sign = this.peek();
    if (!this.accept('+') && !this.accept('-')) this.fail('ERR_ASM_SYNTAX', sign, "expected '+' or '-'");
    const t = this.peek();
    if (t.kind !== 'num') this.fail('ERR_ASM_SYNTAX', t, 'expected a number');
    this.pos++;
    const off = sign.text === '-' ? -t.value! : t.value!;
    if (off < S16[0] || off > S16[1]) this.fail('ERR_ASM_RANGE', t, `offset ${off} out of range ${S16[0]}..${S16[1]}`);
    return { base, off: Number(off) };
  }

  /** `(u32 *)` and friends; returns the size and whether it is signed (sN). */
  private sizeCast(allowSigned: boolean): { size: Size; signed: boolean; tok: Tok } {
    this.expect('(');
    const tok = this.next();
    const m = /^([us])(8|16|32|64)$/.exec(tok.text);
    if (!m || (m[1] === 's' && (!allowSigned || m[2] === '64'))) this.fail('ERR_ASM_SYNTAX', tok, 'expected a size (u8, u16, u32, u64)');
    this.expect('*');
    this.expect(')');
    return { size: (Number(m[2]) / 8) as Size, signed: m[1] === 's', tok };
  }

  /** `(u32 *)(r1 + 4)` */
  private memory(allowSigned: boolean): { size: Size; signed: boolean; base: number; off: number; tok: Tok } {
    const cast = this.sizeCast(allowSigned);
    this.expect('(');
    const a = this.address();
    this.expect(')');
    return { ...cast, ...a };
  }

  /** A branch target: `+5`, `-3`, `5` (relative to the next slot) or a label. */
  private target(prefix: 'pc' | '', range: [bigint, bigint]): (pc: number, resolve: (t: Tok) => number) => number {
    const t = this.peek();
    if (prefix === 'pc' ? this.accept('pc') : this.isNumber()) {
      const numTok = this.peek(this.is('+') || this.is('-') ? 1 : 0);
      const off = this.bignum();
      if (off < range[0] || off > range[1]) this.fail('ERR_ASM_RANGE', numTok, `jump offset ${off} out of range ${range[0]}..${range[1]}`);
      return () => Number(off);
    }
    if (t.kind !== 'id' || REG_RE.test(t.text) || RESERVED_LABELS.has(t.text)) {
      this.fail('ERR_ASM_SYNTAX', t, prefix ? "expected 'pc+N', 'pc-N' or a label" : 'expected an offset or a label');
    }
    this.pos++;
    const labelTok: LabelTok = { ...t, where: this.where };
    return (pc, resolve) => {
      const off = BigInt(resolve(labelTok) - (pc + 1));
      if (off < range[0] || off > range[1]) {
        throw tokError('ERR_ASM_RANGE', this.where, t, `label '${t.text}' is ${off} slots away, out of range ${range[0]}..${range[1]}${range === S16 ? " (use 'gotol' for goto)" : ''}`);
      }
      return Number(off);
    };
  }

  /** Parses the line; undefined when it holds no instruction. */
  parse(): Stmt | undefined {
    if (this.unknown) return this.rawBytes(this.bytes!);
    if (this.peek().kind === 'end') {
      if (this.bytes) this.fail('ERR_ASM_SYNTAX', this.peek(), 'raw bytes without an instruction');
      return undefined;
    }
    const stmt = this.statement();
    this.end();
    return this.bytes ? this.checkBytes(stmt, this.bytes) : stmt;
  }

  private rawBytes(bytes: Uint8Array): Stmt {
    const slots = decodeInsns(bytes);
    return { slots: slots.length as 1 | 2, emit: () => slots };
  }

  /**
   * The text wins, but must agree with llvm-objdump's hex column, except where llvm's text is
   * known to lose information; then the bytes are taken: `call N` (llvm prints helper, local and
   * kfunc calls alike), `lock *(u32 *)(...) += rN` (llvm 14 without alu32 ignores the imm of
   * 32-bit atomics) and `skb[rN]` (llvm drops LD_IND's imm).
   */
  private checkBytes(stmt: Stmt, bytes: Uint8Array): Stmt {
    const fromBytes = decodeInsns(bytes);
    const first = this.toks[0]!;
    return {
      slots: stmt.slots,
      emit: (pc, resolve) => {
        const fromText = stmt.emit(pc, resolve);
        if (fromText.length === fromBytes.length && fromText.every((s, k) => sameSlot(s, fromBytes[k]!))) return fromText;
        if (fromText.length === 1 && fromBytes.length === 1 && llvmLossy(fromText[0]!, fromBytes[0]!)) return fromBytes;
        throw tokError('ERR_ASM_SYNTAX', this.where, first, 'instruction text does not match its raw bytes');
      },
    };
  }

  private one(ins: Instruction): Stmt { return { slots: ins.kind === 'lddw' ? 2 : 1, emit: () => encodeInstruction(ins) }; }

  private statement(): Stmt {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '*') return this.store();
    if (t.kind !== 'id') this.fail('ERR_ASM_SYNTAX', t, 'expected an instruction');
    if (REG_RE.test(t.text)) return this.assignment();
    this.pos++;
    switch (t.text) {
      case 'exit': return this.one({ kind: 'exit' });
      case 'goto': case 'gotol': {
        const long = t.text === 'gotol';
        const off = this.target('', long ? S32 : S16);
        return { slots: 1, emit: (pc, r) => encodeInstruction({ kind: 'ja', long, off: off(pc, r) }) };
      }
      case 'call': return this.call();
      case 'if': return this.conditional();
      case 'lock': return this.lock();
      case '.insn': return this.rawInsn();
      default: return this.fail('ERR_ASM_SYNTAX', t, 'unknown instruction');
    }
  }

  private rawInsn(): Stmt {
    const t = this.next();
    if (t.kind !== 'num' || !/^0x[0-9a-fA-F]{16}$/.test(t.text)) this.fail('ERR_ASM_SYNTAX', t, "expected '0x' and 16 hex digits");
    const byte = (k: number): number => parseInt(t.text.slice(2 + 2 * k, 4 + 2 * k), 16);
    const slot: Insn = {
      code: byte(0), dst: byte(1) & 0x0f, src: byte(1) >> 4,
      off: ((byte(3) << 24) | (byte(2) << 16)) >> 16, imm: byte(4) | (byte(5) << 8) | (byte(6) << 16) | (byte(7) << 24),
    };
    return { slots: 1, emit: () => [slot] };
  }

  private call(): Stmt {
    if (this.is('pc') || (this.peek().kind === 'id' && !this.is('kfunc'))) {
      const off = this.target('pc', S32);
      return { slots: 1, emit: (pc, r) => encodeInstruction({ kind: 'call', target: 'local', imm: off(pc, r), off: 0 }) };
    }
    if (this.accept('kfunc')) {
      this.expect('[');
      const imm = this.num(U32_OR_S32, 'BTF id');
      const off = this.accept(',') ? this.num(S16, 'BTF fd index') : 0;
      this.expect(']');
      return this.one({ kind: 'call', target: 'kfunc', imm, off });
    }
    return this.one({ kind: 'call', target: 'helper', imm: this.num(U32_OR_S32, 'helper id'), off: 0 });
  }

  private conditional(): Stmt {
    const dst = this.reg();
    const opTok = this.next();
    const op = opTok.kind === 'punct' ? JMP_OPS.get(opTok.text) : undefined;
    if (!op) this.fail('ERR_ASM_SYNTAX', opTok, 'expected a comparison');
    const src: Operand = this.isNumber() ? { type: 'imm', value: this.imm(dst.width) } : { type: 'reg', reg: this.reg(dst.width).n };
    this.expect('goto');
    const off = this.target('', S16);
    return { slots: 1, emit: (pc, r) => encodeInstruction({ kind: 'jcond', width: dst.width, op, dst: dst.n, src, off: off(pc, r) }) };
  }

  /** `lock *(u64 *)(r1 + 0) += r2` */
  private lock(): Stmt {
    this.expect('*');
    const m = this.memory(false);
    if (m.size < 4) this.fail('ERR_ASM_SYNTAX', m.tok, 'atomic operations are u32 or u64');
    const opTok = this.next();
    const op = opTok.kind === 'punct' ? LOCK_OPS.get(opTok.text) : undefined;
    if (!op) this.fail('ERR_ASM_SYNTAX', opTok, "expected '+=', '|=', '&=' or '^='");
    const src = this.reg(m.size === 8 ? 64 : undefined);
    return this.one({ kind: 'atomic', size: m.size as 4 | 8, op, fetch: false, dst: m.base, src: src.n, off: m.off });
  }

  /** `*(u32 *)(r10 - 4) = r1` or `= 5` */
  private store(): Stmt {
    this.expect('*');
    const m = this.memory(false);
    this.expect('=');
    const src: Operand = this.isNumber()
      ? { type: 'imm', value: this.imm(m.size === 8 ? 64 : 32) }
      : { type: 'reg', reg: this.reg(m.size === 8 ? 64 : undefined).n };
    return this.one({ kind: 'store', size: m.size, dst: m.base, off: m.off, src });
  }

  private assignment(): Stmt {
    const dst = this.reg();
    const opTok = this.next();
    if (opTok.text !== '=') {
      const op = opTok.kind === 'punct' ? ALU_OPS.get(opTok.text) : undefined;
      if (!op) this.fail('ERR_ASM_SYNTAX', opTok, 'expected an assignment operator');
      const src: Operand = this.isNumber() ? { type: 'imm', value: this.imm(dst.width) } : { type: 'reg', reg: this.reg(dst.width).n };
      return this.one({ kind: 'alu', width: dst.width, op, dst: dst.n, src });
    }
    const t = this.peek();
    if (t.text === '*' && t.kind === 'punct') return this.load(dst);
    if (t.text === '-' && this.peek(1).kind === 'id') {
      this.pos++;
      this.sameReg(dst);
      return this.one({ kind: 'neg', width: dst.width, dst: dst.n });
    }
    if (t.text === '(' && t.kind === 'punct') {
      this.pos++;
      const cast = this.next();
      const bits = /^s(8|16|32)$/.exec(cast.text);
      if (!bits || (dst.width === 32 && bits[1] === '32')) this.fail('ERR_ASM_SYNTAX', cast, dst.width === 64 ? 'expected s8, s16 or s32' : 'expected s8 or s16');
      this.expect(')');
      const src = this.reg(dst.width);
      return this.one({ kind: 'movsx', width: dst.width, bits: Number(bits[1]) as 8 | 16 | 32, dst: dst.n, src: src.n });
    }
    if (this.isNumber()) {
      if (this.peek(this.is('-') || this.is('+') ? 2 : 1).text === 'll') {
        if (dst.width !== 64) this.fail('ERR_ASM_SYNTAX', dst.tok, 'lddw loads a 64-bit register rN');
        const v = this.bignum();
        if (v < U64_OR_S64[0] || v > U64_OR_S64[1]) this.fail('ERR_ASM_RANGE', this.peek(-1), `constant ${v} does not fit 64 bits`);
        this.expect('ll');
        return this.one({ kind: 'lddw', source: 'imm', dst: dst.n, ...lddwSplit(v) });
      }
      return this.one({ kind: 'alu', width: dst.width, op: 'mov', dst: dst.n, src: { type: 'imm', value: this.imm(dst.width) } });
    }
    if (t.kind !== 'id') this.fail('ERR_ASM_SYNTAX', t, 'expected an operand');
    if (REG_RE.test(t.text)) {
      return this.one({ kind: 'alu', width: dst.width, op: 'mov', dst: dst.n, src: { type: 'reg', reg: this.reg(dst.width).n } });
    }
    this.pos++;
    const endian = /^(le|be|bswap)(16|32|64)$/.exec(t.text);
    if (endian) {
      if (dst.width !== 64) this.fail('ERR_ASM_SYNTAX', dst.tok, 'byte swaps are written on rN');
      this.sameReg(dst);
      return this.one({ kind: 'endian', order: endian[1] as 'le' | 'be' | 'bswap', bits: Number(endian[2]) as 16 | 32 | 64, dst: dst.n });
    }
    if (LDDW_NAMES.has(t.text) || t.text === 'func') return this.pseudoLddw(dst, t);
    const fetch = /^atomic_fetch_(add|or|and|xor)$/.exec(t.text);
    if (fetch) {
      this.expect('(');
      const m = this.memory(false);
      if (m.size < 4) this.fail('ERR_ASM_SYNTAX', m.tok, 'atomic operations are u32 or u64');
      this.atomicWidth(dst, m.size);
      this.expect(',');
      this.sameReg(dst);
      this.expect(')');
      return this.one({ kind: 'atomic', size: m.size as 4 | 8, op: fetch[1] as AtomicOp, fetch: true, dst: m.base, src: dst.n, off: m.off });
    }
    if (t.text === 'xchg_64' || t.text === 'xchg32_32' || t.text === 'cmpxchg_64' || t.text === 'cmpxchg32_32') {
      const size = t.text.endsWith('_64') ? 8 : 4;
      const cmp = t.text.startsWith('cmp');
      this.atomicWidth(dst, size);
      if (cmp && dst.n !== 0) this.fail('ERR_ASM_SYNTAX', dst.tok, 'cmpxchg returns in r0');
      this.expect('(');
      const a = this.address();
      this.expect(',');
      if (cmp) { this.sameReg(dst); this.expect(','); }
      const src = cmp ? this.reg(dst.width) : this.sameReg(dst);
      this.expect(')');
      return this.one({ kind: 'atomic', size, op: cmp ? 'cmpxchg' : 'xchg', fetch: true, dst: a.base, src: src.n, off: a.off });
    }
    return this.fail('ERR_ASM_SYNTAX', t, 'expected an operand');
  }

  /** 32-bit atomics name wN (rN is accepted too, as for llvm without alu32); 64-bit ones rN. */
  private atomicWidth(dst: { width: Width; tok: Tok }, size: number): void {
    if (size === 8 && dst.width !== 64) this.fail('ERR_ASM_SYNTAX', dst.tok, 'a 64-bit atomic operates on rN');
  }

  private sameReg(dst: { n: number; width: Width }): { n: number } {
    const r = this.reg(dst.width);
    if (r.n !== dst.n) this.fail('ERR_ASM_SYNTAX', r.tok, `expected the same register as the destination (${dst.width === 64 ? 'r' : 'w'}${dst.n})`);
    return r;
  }

  /** `*(u32 *)(r1 + 4)`, `*(s16 *)(...)` or `*(u32 *)skb[...]` after `dst =`. */
  private load(dst: { n: number; width: Width; tok: Tok }): Stmt {
    this.expect('*');
    const cast = this.sizeCast(true);
    if (dst.width === 32 && (cast.size === 8 || cast.signed)) this.fail('ERR_ASM_SYNTAX', dst.tok, 'this load writes a 64-bit register rN');
    if (this.accept('skb')) {
      if (cast.size === 8 || cast.signed) this.fail('ERR_ASM_SYNTAX', cast.tok, 'packet loads are u8, u16 or u32');
      if (dst.n !== 0 || dst.width !== 64) this.fail('ERR_ASM_SYNTAX', dst.tok, 'packet loads write r0');
      this.expect('[');
      let ins: Instruction;
      const size = cast.size as 1 | 2 | 4;
      if (this.isNumber()) {
        ins = { kind: 'ldpkt', mode: 'abs', size, src: 0, imm: this.num(U32_OR_S32, 'packet offset') };
      } else {
        const src = this.reg(64).n;
        let imm = 0;
        if (this.is('+') || this.is('-')) {
          const neg = this.next().text === '-';
          const t = this.peek();
          const v = this.num(U32_OR_S32, 'packet offset');
          if (neg && t.value! > 2n ** 31n) this.fail('ERR_ASM_RANGE', t, `packet offset -${t.value} out of range`);
          imm = neg ? -v | 0 : v;
        }
        ins = { kind: 'ldpkt', mode: 'ind', size, src, imm };
      }
      this.expect(']');
      return this.one(ins);
    }
    this.expect('(');
    const a = this.address();
    this.expect(')');
    return this.one({ kind: 'load', size: cast.size, signed: cast.signed, dst: dst.n, src: a.base, off: a.off });
  }

  /** `map[3] ll`, `map_value[3] + 16 ll`, `btf_id[1, 2] ll`, `func pc+5 ll`, `func name ll`. */
  private pseudoLddw(dst: { n: number; width: Width; tok: Tok }, name: Tok): Stmt {
    if (dst.width !== 64) this.fail('ERR_ASM_SYNTAX', dst.tok, 'lddw loads a 64-bit register rN');
    if (name.text === 'func') {
      const off = this.target('pc', S32);
      this.expect('ll');
      return { slots: 2, emit: (pc, r) => encodeInstruction({ kind: 'lddw', source: 'func', dst: dst.n, imm: off(pc, r), next: 0 }) };
    }
    const source = LDDW_NAMES.get(name.text)!;
    this.expect('[');
    const imm = this.num(U32_OR_S32, source === 'btf_id' ? 'BTF id' : 'map index');
    let next = 0;
    if (source === 'btf_id' && this.accept(',')) next = this.num(U32_OR_S32, 'BTF fd');
    this.expect(']');
    if ((source === 'map_value' || source === 'map_idx_value') && this.accept('+')) next = this.num([0n, 2n ** 32n - 1n], 'value offset');
    this.expect('ll');
    return this.one({ kind: 'lddw', source, dst: dst.n, imm, next });
  }
}

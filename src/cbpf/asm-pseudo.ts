/**
 * @module cbpf/asm-pseudo
 * The seccomp-tools dialect of the classic-BPF assembler (what `seccomp-tools disasm` prints
 * and `seccomp-tools asm` reads):
 *
 *   A = arch                              ld [4]        (sys_number, arch, instruction_pointer,
 *   A = args[1] >> 32                     ld [28]        args[i], `>> 32` for the upper half, data[k])
 *   A = 0x10 / X = 3 / A = X / X = A      ld #, ldx #, txa, tax      A = len / X = len
 *   A = mem[2] / X = mem[2]               ld M[2], ldx M[2]          mem[2] = A / mem[2] = X
 *   A += 1 / A &= X / ... / A = -A        ALU (+ - * / & | ^ << >>), neg
 *   if (A == getpid) goto 0010            jeq (==, !=, >, >=, <, <=, &, !(A & k)), optional
 *   if (A != 3) goto l1 else goto l2        `else goto`; the value may be X, a number, an
 *   A == ARCH_X86_64 ? next : dead          x86_64 syscall name or ARCH_X86_64/ARCH_I386/...
 *   goto l1                               ja
 *   return ALLOW / ERRNO(1) / A / 0x7fff0000
 *
 * A numeric jump target is an absolute instruction index (seccomp-tools prints `goto 0010`),
 * `next` is the next instruction. Syscall names are x86_64 ones.
 */
import { cinsn } from './insn.js';
import { OP } from './opcodes.js';
import { ACTIONS, ARCHES } from './names.js';
import { syscallNumber } from '../abi/syscalls-x86_64.js';
import {
  BPF_ALU, BPF_K, BPF_X, BPF_NEG, BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
} from '../abi/cbpf.js';
import type { AsmStmt, AsmTarget, Line } from './asm-lex.js';

const ALU_ASSIGN = new Map<string, number>([
  ['+=', BPF_ADD], ['-=', BPF_SUB], ['*=', BPF_MUL], ['/=', BPF_DIV], ['%=', BPF_MOD], ['&=', BPF_AND], ['|=', BPF_OR],
  ['^=', BPF_XOR], ['<<=', BPF_LSH], ['>>=', BPF_RSH],
]);

/** Comparison -> (opcode base, whether true/false targets swap). */
const COMPARE = new Map<string, [code: number, swap: boolean]>([
  ['==', [OP.JEQ_K, false]], ['!=', [OP.JEQ_K, true]], ['>', [OP.JGT_K, false]], ['<=', [OP.JGT_K, true]],
  ['>=', [OP.JGE_K, false]], ['<', [OP.JGE_K, true]], ['&', [OP.JSET_K, false]],
]);

/** True if the statement on this line is in this dialect (looked at from its first tokens). */
export function isPseudoStatement(l: Line): boolean {
  const t = l.peek(), u = l.peek(1);
  const w = t.text;
  if (t.kind !== 'id') return false;
  if (w === 'if' || w === 'goto' || w === 'return') return true;
  if ((w === 'A' || w === 'X') && u.kind === 'punct' && u.text !== ',') return true;
  return (w === 'mem' || w === 'M') && u.text === '[' && l.toks.some((x) => x.text === '=');
}

export function parsePseudo(l: Line): AsmStmt {
  const t = l.next();
  switch (t.text) {
    case 'goto': return done(l, { kind: 'ja', t: target(l) });
    case 'return': return done(l, parseReturn(l));
    case 'if': return done(l, parseIf(l));
    case 'mem': case 'M': {
      const k = memIndex(l);
      l.expect('=');
      const r = l.next();
      if (r.text === 'A') return done(l, { kind: 'insn', ins: cinsn(OP.ST, k) });
      if (r.text === 'X') return done(l, { kind: 'insn', ins: cinsn(OP.STX, k) });
      throw l.error(`expected A or X, found '${r.text}'`, r.col);
    }
    case 'X': return done(l, parseX(l));
    default: return done(l, parseA(l));
  }
}

function done(l: Line, s: AsmStmt): AsmStmt {
  l.expectEnd();
  return s;
}

function memIndex(l: Line): number {
  l.expect('[');
  const k = l.u32('a scratch memory index');
  l.expect(']');
  return k;
}

function parseX(l: Line): AsmStmt {
  l.expect('=');
  const t = l.peek();
  if (l.accept('A')) return { kind: 'insn', ins: cinsn(OP.TAX) };
  if (l.accept('len')) return { kind: 'insn', ins: cinsn(OP.LDX_LEN) };
  if (t.text === 'mem' || t.text === 'M') { l.next(); return { kind: 'insn', ins: cinsn(OP.LDX_MEM, memIndex(l)) }; }
  return { kind: 'insn', ins: cinsn(OP.LDX_IMM, value(l)) };
}

function parseA(l: Line): AsmStmt {
  const op = l.next();
  const alu = ALU_ASSIGN.get(op.text);
  if (alu !== undefined) {
    if (l.accept('X')) return { kind: 'insn', ins: cinsn(BPF_ALU | alu | BPF_X) };
    return { kind: 'insn', ins: cinsn(BPF_ALU | alu | BPF_K, value(l)) };
  }
  if (op.text !== '=') throw l.error(`expected an assignment, found '${op.text}'`, op.col);
  const t = l.peek();
  if (t.text === '-' && l.peek(1).text === 'A') { l.next(); l.next(); return { kind: 'insn', ins: cinsn(BPF_ALU | BPF_NEG) }; }
  if (l.accept('X')) return { kind: 'insn', ins: cinsn(OP.TXA) };
  if (l.accept('len')) return { kind: 'insn', ins: cinsn(OP.LD_LEN) };
  if (t.text === 'mem' || t.text === 'M') { l.next(); return { kind: 'insn', ins: cinsn(OP.LD_MEM, memIndex(l)) }; }
  const field = dataField(l);
  if (field !== undefined) return { kind: 'insn', ins: cinsn(OP.LD_ABS, field) };
  return { kind: 'insn', ins: cinsn(OP.LD_IMM, value(l)) };
}

/** seccomp_data field names -> byte offset, or undefined if the next token is not one. */
function dataField(l: Line): number | undefined {
  const t = l.peek();
  let off: number;
  if (t.text === 'sys_number') { l.next(); off = 0; } else if (t.text === 'arch') { l.next(); return 4; } else if (t.text === 'instruction_pointer') { l.next(); off = 8; } else if (t.text === 'args') {
    l.next();
    l.expect('[');
    const c = l.peek();
    const i = l.u32('an argument index');
    if (i > 5) throw l.error(`args[${i}]: a syscall has 6 arguments`, c.col);
    l.expect(']');
    off = 16 + 8 * i;
  } else if (t.text === 'data') {
    l.next();
    l.expect('[');
    const k = l.u32('a byte offset');
    l.expect(']');
    return k;
  } else return undefined;
  if (l.accept('>>')) {
    const c = l.peek();
    if (l.u32() !== 32 || off === 0) throw l.error('only the upper half of a 64-bit field (>> 32) can be loaded', c.col);
    off += 4;
  }
  return off;
}

/** A constant: a number, an x86_64 syscall name or an ARCH_* name. */
function value(l: Line): number {
  const t = l.peek();
  if (t.kind === 'id') {
    l.next();
    const v = ARCHES.get(t.text) ?? syscallNumber(t.text);
    if (v === undefined) throw l.error(`unknown name '${t.text}' (not a syscall or an ARCH_* constant)`, t.col);
    return v;
  }
  return l.u32();
}

function target(l: Line): AsmTarget {
  const t = l.next();
  if (t.kind === 'num') return { kind: 'abs', n: Number(t.value!), col: t.col };
  if (t.kind === 'id') return t.text === 'next' ? { kind: 'next', col: t.col } : { kind: 'label', name: t.text, col: t.col };
  throw l.error(`expected a jump target, found '${t.text}'`, t.col);
}

function parseReturn(l: Line): AsmStmt {
  if (l.accept('A')) return { kind: 'insn', ins: cinsn(OP.RET_A) };
  return { kind: 'insn', ins: cinsn(OP.RET_K, returnValue(l)) };
}

/** A return value: a number or an action name, with `(data)` for TRAP/ERRNO/TRACE. */
export function returnValue(l: Line): number {
  const t = l.peek();
  if (t.kind !== 'id') return l.u32('a return value');
  l.next();
  const a = ACTIONS.get(t.text.toUpperCase());
  if (!a) throw l.error(`unknown action '${t.text}'`, t.col);
  if (!a.data || !l.accept('(')) return a.value;
  const c = l.peek();
  const data = l.u32();
  if (data > 0xffff) throw l.error(`${t.text} data ${data} does not fit in 16 bits`, c.col);
  l.expect(')');
  return (a.value | data) >>> 0;
}

/** `if (A op v) goto L [else goto L2]` or `if (!(A & v)) goto L`; also `A op v ? L1 : L2` via parseTernary. */
function parseIf(l: Line): AsmStmt {
  l.expect('(');
  const negate = l.accept('!');
  if (negate) l.expect('(');
  l.expect('A');
  const opTok = l.next();
  const cmp = COMPARE.get(opTok.text);
  if (!cmp || (negate && opTok.text !== '&')) throw l.error(`expected a comparison, found '${opTok.text}'`, opTok.col);
  const [code, k] = operand(l, cmp[0]);
  l.expect(')');
  if (negate) l.expect(')');
  l.expect('goto');
  const first = target(l);
  const second: AsmTarget = l.accept('else') ? (l.expect('goto'), target(l)) : { kind: 'next', col: l.peek().col };
  const swap = cmp[1] !== negate;
  return swap ? { kind: 'cond', code, k, t: second, f: first } : { kind: 'cond', code, k, t: first, f: second };
}

function operand(l: Line, kCode: number): [code: number, k: number] {
  if (l.accept('X')) return [kCode | BPF_X, 0];
  return [kCode, value(l)];
}

/** The seccomp-tools asm form `A == 3 ? l1 : l2` (the line starts with A and a comparison). */
export function parseTernary(l: Line): AsmStmt | undefined {
  if (l.peek().text !== 'A' || !COMPARE.has(l.peek(1).text)) return undefined;
  l.next();
  const opTok = l.next();
  const [base, swap] = COMPARE.get(opTok.text)!;
  const [code, k] = operand(l, base);
  l.expect('?');
  const a = target(l);
  l.expect(':');
  const b = target(l);
  return done(l, swap ? { kind: 'cond', code, k, t: b, f: a } : { kind: 'cond', code, k, t: a, f: b });
}

/**
 * @module cbpf/asm-lex
 * Tokens and parsed statements shared by the classic-BPF assembler's two dialects (bpf_asm in
 * ./asm.ts, seccomp-tools in ./asm-pseudo.ts).
 */
import { SeccompEbpfError } from '../errors.js';
import type { CInsn } from './insn.js';

export interface Tok {
  kind: 'id' | 'num' | 'punct' | 'end';
  text: string;
  /** 1-based column. */
  col: number;
  /** Value of a number token (unbounded; callers check ranges). */
  value?: bigint;
}

/** Where a jump goes, before labels are resolved. */
export type AsmTarget =
  | { kind: 'label'; name: string; col: number }
  | { kind: 'rel'; n: number; col: number } // bpf_asm numeric offset: the n-th following instruction
  | { kind: 'abs'; n: number; col: number } // seccomp-tools `goto 0010`: instruction 10
  | { kind: 'next'; col: number };

export type AsmStmt =
  | { kind: 'insn'; ins: CInsn }
  /** A raw instruction whose jump fields (for jump codes) are relative offsets to keep. */
  | { kind: 'raw'; ins: CInsn }
  | { kind: 'ja'; t: AsmTarget }
  | { kind: 'cond'; code: number; k: number; t: AsmTarget; f: AsmTarget };

const PUNCT = ['>>=', '<<=', '==', '!=', '>=', '<=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '>>', '<<',
  '#', '[', ']', '(', ')', ',', '+', '-', '*', '/', '&', '%', ':', '?', '!', '=', '<', '>', '|', '^'];

/** A tokenised line with a cursor and error helpers. */
export class Line {
  readonly toks: Tok[] = [];
  i = 0;

  constructor(readonly text: string, readonly line: number, readonly file: string | undefined, startCol = 0) {
    let p = startCol;
    while (p < text.length) {
      const c = text[p]!;
      if (c === ' ' || c === '\t' || c === '\r') { p++; continue; }
      const rest = text.slice(p);
      const id = /^[A-Za-z_.$][\w.$]*/.exec(rest);
      const nm = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)(?![\w.$])/.exec(rest);
      if (nm) {
        this.toks.push({ kind: 'num', text: nm[0], col: p + 1, value: parseNumber(nm[0]) });
        p += nm[0].length;
      } else if (id) {
        this.toks.push({ kind: 'id', text: id[0], col: p + 1 });
        p += id[0].length;
      } else {
        const op = PUNCT.find((s) => rest.startsWith(s));
        if (!op) throw this.error(`unexpected character '${c}'`, p + 1);
        this.toks.push({ kind: 'punct', text: op, col: p + 1 });
        p += op.length;
      }
    }
    this.toks.push({ kind: 'end', text: 'end of line', col: text.length + 1 });
  }

  peek(offset = 0): Tok {
    return this.toks[Math.min(this.i + offset, this.toks.length - 1)]!;
  }

  next(): Tok {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  /** Consumes `text` if it is next (case-insensitive for words). */
  accept(text: string): boolean {
    const t = this.peek();
    if (t.kind !== 'end' && t.text.toLowerCase() === text.toLowerCase()) {
      this.i++;
      return true;
    }
    return false;
  }

  expect(text: string): Tok {
    const t = this.peek();
    if (!this.accept(text)) throw this.error(`expected '${text}', found '${t.text}'`, t.col);
    return t;
  }

  expectEnd(): void {
    const t = this.peek();
    if (t.kind !== 'end') throw this.error(`unexpected '${t.text}' after the instruction`, t.col);
  }

  /** A number, optionally negative, as a u32 (negative values wrap); error outside -2^31 .. 2^32-1. */
  u32(what = 'a number'): number {
    const neg = this.accept('-');
    const t = this.next();
    if (t.kind !== 'num') throw this.error(`expected ${what}, found '${t.text}'`, t.col);
    const v = neg ? -t.value! : t.value!;
    if (v < -(2n ** 31n) || v > 0xffff_ffffn) throw this.error(`${t.text} does not fit in 32 bits`, t.col);
    return Number(BigInt.asUintN(32, v));
  }

  error(message: string, col: number): SeccompEbpfError {
    return new SeccompEbpfError('ERR_CBPF_ASM_SYNTAX', message, this.where(col));
  }

  where(col: number): { file?: string; line: number; column: number } {
    return this.file !== undefined ? { file: this.file, line: this.line, column: col } : { line: this.line, column: col };
  }
}

function parseNumber(text: string): bigint {
  const t = text.toLowerCase();
  if (t.startsWith('0x') || t.startsWith('0b')) return BigInt(t);
  // Decimal even with leading zeros: seccomp-tools writes `goto 0010` for instruction 10.
  return BigInt(t.replace(/^0+(?=\d)/, ''));
}

/**
 * @module cbpf/disasm
 * Disassembles classic BPF into the kernel's bpf_asm syntax (tools/bpf/bpf_asm, the format
 * bpf_dbg prints), one instruction per line with an `lN:` label, so that the output assembles
 * back bit for bit (see ./asm.ts):
 *
 *   l0:    ld [4]                           ; arch
 *   l1:    jeq #0xc000003e, l2, l5          ; ARCH_X86_64
 *   l2:    ld [0]                           ; sys_number
 *   l3:    jeq #39, l4, l5                  ; getpid
 *   l4:    ret #0x7fff0000                  ; ALLOW
 *   l5:    ret #0x0                         ; KILL_THREAD
 *
 * With `seccomp: true` loads name their seccomp_data field, return values their action, and
 * constants compared with the syscall number or the arch are named (x86_64 syscall names).
 * Instructions that bpf_asm cannot spell (unknown opcodes, jumps past the end, unused fields
 * that are not zero) print as `.raw code, jt, jf, k`.
 */
import type { CInsn } from './insn.js';
import { CLASSIC_OPS, OP, isCondJump } from './opcodes.js';
import { actionText, archText, dataFieldText } from './names.js';
import { syscallName } from '../abi/syscalls-x86_64.js';
import { SECCOMP_DATA_SIZE, X32_SYSCALL_BIT } from '../abi/seccomp.js';
import { checkFields } from './codec.js';

export interface ClassicDisasmOptions {
  /** Annotate with seccomp meanings (default false). */
  seccomp?: boolean;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const num = (n: number): string => ((n >>> 0) < 0x10000 ? String(n >>> 0) : hex(n));
/** Constants of bit operations read better in hex; others in decimal while small. */
const BIT_OPS = new Set(['and', 'or', 'xor', 'jset']);

/** The text of one instruction at index `pc` of a program of `len` instructions, without label or comment. */
export function formatClassicInsn(ins: CInsn, pc: number, len = Number.MAX_SAFE_INTEGER): string {
  const info = CLASSIC_OPS.get(ins.code);
  const k = ins.k >>> 0;
  const raw = `.raw ${hex(ins.code)}, ${ins.jt}, ${ins.jf}, ${hex(k)}`;
  if (!info) return raw;
  // Fields the text form cannot show (jt/jf outside conditional jumps, k where unused) go raw.
  if (info.operand !== 'cond' && (ins.jt !== 0 || ins.jf !== 0)) return raw;
  if ((info.operand === 'x' || info.operand === 'a' || info.operand === 'none' || info.operand === 'len' || info.src === 'x') && k !== 0) return raw;
  const m = info.mnemonic;
  const imm = BIT_OPS.has(m) || k >= 0x10000 ? hex(k) : String(k);
  switch (info.operand) {
    case 'abs': return `${m} [${num(k)}]`;
    case 'ind': return `${m} [x + ${num(k)}]`;
    case 'msh': return `${m} 4*([${num(k)}]&0xf)`;
    case 'mem': return `${m} M[${k}]`;
    case 'imm': return m === 'ret' ? `${m} #${hex(k)}` : `${m} #${imm}`;
    case 'len': return `${m} #len`;
    case 'k': return `${m} #${imm}`;
    case 'x': return `${m} x`;
    case 'a': return `${m} a`;
    case 'none': return m;
    case 'ja': return pc + 1 + k < len ? `ja l${pc + 1 + k}` : raw;
    case 'cond': {
      if (pc + 1 + Math.max(ins.jt, ins.jf) >= len) return raw;
      const src = info.src === 'x' ? 'x' : `#${imm}`;
      return `${m} ${src}, l${pc + 1 + ins.jt}, l${pc + 1 + ins.jf}`;
    }
  }
}

/**
 * Disassembles a program (valid or not) to text, one line per instruction.
 * Throws ERR_CBPF_FIELD if an instruction's fields do not fit struct sock_filter.
 */
export function disassembleClassic(filter: readonly CInsn[], opts: ClassicDisasmOptions = {}): string {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  for (const key of Object.keys(opts)) if (key !== 'seccomp') throw new TypeError(`unknown option '${key}'`);
  checkFields(filter);
  const notes = opts.seccomp ? seccompNotes(filter) : [];
  const lines = filter.map((ins, pc) => {
    const text = `${`l${pc}:`.padEnd(7)}${formatClassicInsn(ins, pc, filter.length)}`;
    const note = notes[pc];
    return note ? `${text.padEnd(40)}; ${note}` : text;
  });
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** x86_64 syscall name of a number; x32 numbers (bit 30) as `x32 name`. */
function nrText(k: number): string | undefined {
  const name = syscallName(k);
  return name && (k & X32_SYSCALL_BIT) !== 0 ? `x32 ${name}` : name;
}

/** What A holds, as far as a simple forward pass can tell. */
type AVal = 'nr' | 'arch' | undefined;

function seccompNotes(filter: readonly CInsn[]): (string | undefined)[] {
  const n = filter.length;
  // Incoming A value per instruction: null = no path seen yet, undefined = unknown.
  const inA: (AVal | null)[] = new Array(n).fill(null);
  const merge = (to: number, v: AVal): void => {
    if (to >= n) return;
    inA[to] = inA[to] === null || inA[to] === v ? v : undefined;
  };
  inA[0] = undefined;
  const notes: (string | undefined)[] = new Array(n).fill(undefined);
  for (let pc = 0; pc < n; pc++) {
    const { code, jt, jf } = filter[pc]!;
    const k = filter[pc]!.k >>> 0;
    const a = inA[pc] ?? undefined;
    let out: AVal = undefined;
    let fallthrough = true;
    if (code === OP.LD_ABS) {
      notes[pc] = k < SECCOMP_DATA_SIZE ? dataFieldText(k) : undefined;
      out = k === 0 ? 'nr' : k === 4 ? 'arch' : undefined;
    } else if (code === OP.RET_K) {
      notes[pc] = actionText(k);
      fallthrough = false;
    } else if (code === OP.RET_A) {
      fallthrough = false;
    } else if (code === OP.LD_LEN) {
      notes[pc] = 'sizeof(struct seccomp_data) = 64';
    } else if (code === OP.JA) {
      merge(pc + 1 + k, a);
      fallthrough = false;
    } else if (isCondJump(code)) {
      if (CLASSIC_OPS.get(code)!.src === 'k' && code !== OP.JSET_K) {
        notes[pc] = a === 'nr' ? nrText(k) : a === 'arch' ? archText(k) : undefined;
      }
      merge(pc + 1 + jt, a);
      merge(pc + 1 + jf, a);
      fallthrough = false;
    } else {
      // Anything else that writes A makes it unknown; X and M[] operations keep it.
      const keeps = code === OP.TAX || code === OP.ST || code === OP.STX || code === OP.LDX_IMM
        || code === OP.LDX_MEM || code === OP.LDX_LEN;
      out = keeps ? a : undefined;
    }
    if (fallthrough) merge(pc + 1, out);
  }
  return notes;
}

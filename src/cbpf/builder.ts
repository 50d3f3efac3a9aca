/**
 * @module cbpf/builder
 * Builds classic BPF programs with labels. Jumps name their targets (a label, an instruction
 * index, or `null` for the next instruction) and are resolved in build(). A conditional jump
 * whose target is more than 255 instructions away does not fit jt/jf (u8): build() lowers it
 * through a trampoline placed right after the jump, either a copy of the target when that is a
 * RET, or a `ja` (whose k is 32 bits). Inserting trampolines moves other code, so this repeats
 * until every jump fits. With `{ trampolines: false }` such a jump is ERR_CBPF_JUMP_RANGE
 * instead. Nothing is ever truncated.
 *
 *   jeq #k, T, next   (T too far)   ->   jeq #k, 0, 1   ; jt -> the trampoline
 *                                        ja T           ; or a copy of T's RET
 *                                        next: ...
 */
import { SeccompEbpfError } from '../errors.js';
import { cinsn, type CInsn } from './insn.js';
import { checkFields } from './codec.js';
import { OP, isCondJump, isReturn } from './opcodes.js';

/** A jump target: a label name, an absolute builder instruction index, or null = next instruction. */
export type Target = string | number | null;

export interface BuilderOptions {
  /** Lower conditional jumps beyond 255 through trampolines (default true); false makes them ERR_CBPF_JUMP_RANGE. */
  trampolines?: boolean;
}

interface Item {
  ins: CInsn;
  /** Targets of a JA (t only) or a conditional jump (t and f). */
  t?: Target;
  f?: Target;
  /** Copied verbatim by build(). */
  raw?: boolean;
}

const MAX_COND = 255;

export class ClassicBuilder {
  private readonly items: Item[] = [];
  private readonly labels = new Map<string, number>();
  private readonly trampolines: boolean;

  constructor(opts: BuilderOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
    for (const key of Object.keys(opts)) if (key !== 'trampolines') throw new TypeError(`unknown option '${key}'`);
    this.trampolines = opts.trampolines ?? true;
  }

  /** Number of instructions added so far (the index the next one gets). */
  get length(): number {
    return this.items.length;
  }

  /** Defines `name` at the next instruction. Throws ERR_CBPF_BUILD_LABEL if already defined. */
  label(name: string): this {
    if (typeof name !== 'string' || name === '') throw new SeccompEbpfError('ERR_CBPF_BUILD', 'a label must be a non-empty string');
    if (this.labels.has(name)) throw new SeccompEbpfError('ERR_CBPF_BUILD_LABEL', `label '${name}' defined twice`, { insn: this.items.length });
    this.labels.set(name, this.items.length);
    return this;
  }

  /** True if `name` was defined. */
  hasLabel(name: string): boolean {
    return this.labels.has(name);
  }

  /** Appends a non-jump instruction (use ja() and jump() for jumps). */
  emit(ins: CInsn): this {
    checkFields([ins]);
    if (ins.code === OP.JA || isCondJump(ins.code)) {
      throw new SeccompEbpfError('ERR_CBPF_BUILD', 'emit() takes non-jump instructions; use ja() or jump()', { insn: this.items.length });
    }
    this.items.push({ ins: { code: ins.code, jt: ins.jt, jf: ins.jf, k: ins.k >>> 0 } });
    return this;
  }

  /**
   * Appends an instruction exactly as given, jumps included: its jt/jf/k are copied, never
   * adjusted for labels or trampolines (for instructions read from a dump, or invalid on purpose).
   */
  raw(ins: CInsn): this {
    checkFields([ins]);
    this.items.push({ ins: { code: ins.code, jt: ins.jt, jf: ins.jf, k: ins.k >>> 0 }, raw: true });
    return this;
  }

  /** `ld [off]` (seccomp_data word at byte off). */
  ldAbs(off: number): this { return this.emit({ code: OP.LD_ABS, jt: 0, jf: 0, k: off }); }
  /** `ld #k`. */
  ldImm(k: number): this { return this.emit({ code: OP.LD_IMM, jt: 0, jf: 0, k }); }
  /** `ldx #k`. */
  ldxImm(k: number): this { return this.emit({ code: OP.LDX_IMM, jt: 0, jf: 0, k }); }
  /** `ret #k`. */
  ret(k: number): this { return this.emit({ code: OP.RET_K, jt: 0, jf: 0, k }); }
  /** `ret a`. */
  retA(): this { return this.emit(cinsn(OP.RET_A)); }

  /** `ja target`. */
  ja(target: Target): this {
    this.items.push({ ins: cinsn(OP.JA), t: target });
    return this;
  }

  /** A conditional jump (`code` is JEQ/JGT/JGE/JSET with BPF_K or BPF_X) to `jt` if true, `jf` if false. */
  jump(code: number, k: number, jt: Target, jf: Target): this {
    if (!isCondJump(code)) throw new SeccompEbpfError('ERR_CBPF_BUILD', `0x${code.toString(16)} is not a conditional jump`, { insn: this.items.length });
    checkFields([{ code, jt: 0, jf: 0, k }]);
    this.items.push({ ins: cinsn(code, k), t: jt, f: jf });
    return this;
  }

  /**
   * Resolves labels and lays the program out. Throws ERR_CBPF_BUILD_LABEL (undefined label,
   * a target that is not after the jump, or a target past the last instruction) and, without
   * trampolines, ERR_CBPF_JUMP_RANGE (location.insn is the builder index of the jump).
   */
  build(): CInsn[] {
    const n = this.items.length;
    const tt = new Int32Array(n).fill(-1), tf = new Int32Array(n).fill(-1);
    this.items.forEach((it, i) => {
      if (it.t !== undefined) tt[i] = this.resolve(it.t, i);
      if (it.f !== undefined) tf[i] = this.resolve(it.f, i);
    });
    // Fixed point: trampoline flags only ever turn on, so this ends.
    const trT = new Uint8Array(n), trF = new Uint8Array(n);
    const pos = new Int32Array(n + 1);
    for (;;) {
      for (let i = 0, p = 0; i <= n; i++) {
        pos[i] = p;
        p += 1 + (i < n ? trT[i]! + trF[i]! : 0);
      }
      let changed = false;
      for (let i = 0; i < n; i++) {
        if (tf[i]! < 0) continue; // not conditional
        for (const [target, flags] of [[tt[i]!, trT], [tf[i]!, trF]] as const) {
          if (flags[i] || pos[target]! - pos[i]! - 1 <= MAX_COND) continue;
          if (!this.trampolines) {
            throw new SeccompEbpfError('ERR_CBPF_JUMP_RANGE',
              `conditional jump over ${pos[target]! - pos[i]! - 1} instructions does not fit in 8 bits`, { insn: i });
          }
          flags[i] = 1;
          changed = true;
        }
      }
      if (!changed) break;
    }
    const out: CInsn[] = [];
    const far = (from: number, target: number): CInsn => {
      const t = this.items[target]!.ins;
      return isReturn(t.code) ? { ...t } : cinsn(OP.JA, pos[target]! - from - 1);
    };
    this.items.forEach((it, i) => {
      const p = pos[i]!;
      if (it.raw) {
        out.push({ ...it.ins });
      } else if (it.ins.code === OP.JA) {
        out.push(cinsn(OP.JA, pos[tt[i]!]! - p - 1));
      } else if (tf[i]! >= 0) {
        const t = trT[i]!, f = trF[i]!;
        const jt = t ? 0 : pos[tt[i]!]! - p - 1;
        const jf = f ? t : pos[tf[i]!]! - p - 1;
        out.push(cinsn(it.ins.code, it.ins.k, jt, jf));
        if (t) out.push(far(p + 1, tt[i]!));
        if (f) out.push(far(p + 1 + t, tf[i]!));
      } else {
        out.push({ ...it.ins });
      }
    });
    return out;
  }

  private resolve(target: Target, from: number): number {
    let to: number;
    if (target === null) to = from + 1;
    else if (typeof target === 'number') {
      if (!Number.isInteger(target)) throw new SeccompEbpfError('ERR_CBPF_BUILD_LABEL', `jump target ${target} is not an instruction index`, { insn: from });
      to = target;
    } else {
      const at = this.labels.get(target);
      if (at === undefined) throw new SeccompEbpfError('ERR_CBPF_BUILD_LABEL', `undefined label '${target}'`, { insn: from });
      to = at;
    }
    const name = typeof target === 'string' ? `label '${target}'` : `instruction ${to}`;
    if (to <= from) throw new SeccompEbpfError('ERR_CBPF_BUILD_LABEL', `${name} is not after the jump (classic BPF jumps forward only)`, { insn: from });
    if (to >= this.items.length) throw new SeccompEbpfError('ERR_CBPF_BUILD_LABEL', `${name} is past the last instruction`, { insn: from });
    return to;
  }
}

/**
 * @module ebpf/vm/jit/compile
 * compileVm: the eBPF-to-JavaScript JIT. Same arguments, validation, errors and results as
 * createVm (../interpreter.ts), the reference it is tested against, but registers are pairs
 * of u32 numbers in local variables and the program is generated JavaScript (./codegen.ts),
 * built once per program: no BigInt on the common path (helper calls and 64-bit
 * multiplication/division convert at the boundary), 10-30x faster on the example filters
 * (bench/vm.ts). Stacks are zeroed on frame entry only when they may have been written.
 *
 * Differences from the interpreter, both only in where a fault is reported:
 *   - The instruction budget is charged once per basic block, at its entry. A run that the
 *     interpreter completes within maxInsns completes here too (blocks end at every jump, call
 *     and exit, so an entered block runs to its end), but ERR_VM_INSN_LIMIT is reported at the
 *     first instruction of the block that would exceed the budget, not at the exact one; and
 *     when a block would both exhaust the budget and fault later on, the budget fault wins.
 *   - An unexpected JS exception (a bug: ERR_VM_INTERNAL) is placed at the current block.
 *
 * Programs longer than JIT_MAX_SLOTS, or a host that forbids `new Function` (EvalError, e.g. a
 * content security policy), get the interpreter instead. Big programs are compiled to several
 * functions that the JS engine still optimizes (see ./codegen.ts).
 */
import type { Insn } from '../../insn.js';
import { BPF_CALL, BPF_JMP } from '../../../abi/bpf.js';
import { SeccompEbpfError } from '../../../errors.js';
import { createVm, DEFAULT_MAX_INSNS, type Vm, type VmOptions } from '../interpreter.js';
import { decodeProgram } from '../decode.js';
import { checkRunEntry } from '../faults.js';
import { Memory } from '../memory.js';
import type { HelperDef, TaskContext } from '../types.js';
import { generateSource } from './codegen.js';
import { createEnv, createRuntime, type JitEnv, type JitRuntime } from './runtime.js';

/** Longest program (in slots) compiled to JavaScript; longer ones run in the interpreter. */
export const JIT_MAX_SLOTS = 100_000;

type Exec = (budget: number) => number;

/**
 * Decodes `insns` and compiles them to a VM (see the module comment).
 * Throws ERR_VM_BAD_INSN for an invalid encoding and ERR_VM_BAD_OPTIONS for bad options, as
 * createVm does.
 */
export function compileVm(insns: readonly Insn[], opts: VmOptions, tuning: JitTuning = {}): Vm {
  const reference = createVm(insns, opts); // the same checks and errors; also the fallback
  const p = decodeProgram(insns);
  if (p.length > JIT_MAX_SLOTS) return reference;
  const mem = new Memory();
  const maps = opts.maps;
  const env = createEnv(mem, maps, opts.host);
  const helperAt = Array.from(p.code, (c, i): HelperDef | undefined =>
    c === (BPF_JMP | BPF_CALL) && p.src[i] === 0 ? opts.helpers.get(p.imm[i]!) : undefined);
  const maxInsns = opts.maxInsns ?? DEFAULT_MAX_INSNS;
  const rt = createRuntime({ p, mem, env, maps, helperAt, maxInsns });
  // The code generator finds a frame's dirty flag from an address's high word: stacks are 16 apart.
  if (Array.from(rt.FPH).some((hi, f) => hi !== rt.FPH[0]! + 16 * f)) throw new SeccompEbpfError('ERR_VM_INTERNAL', 'JIT: unexpected stack layout');
  const layout = {
    ctxHi: Number(mem.ctxAddr >> 32n),
    stackHi0: rt.FPH[0]!,
    stackSize: rt.FPL[0]!, // r10 = stack base (offset 0) + the stack's size
  };
  const code = generateSource(p, {
    layout, mapCount: maps.length, hasHelper: (i) => helperAt[i] !== undefined,
    ...(tuning.chunkChars !== undefined ? { chunkChars: tuning.chunkChars } : {}),
  });
  rt.CHUNK_OF = code.chunkOf;
  let factory: (rt: JitRuntime) => Exec;
  try {
    factory = new Function('rt', code.source) as (rt: JitRuntime) => Exec;
  } catch (e) {
    if (e instanceof EvalError) return reference;
    throw new SeccompEbpfError('ERR_VM_INTERNAL', `JIT produced invalid code: ${String(e)}`, undefined, { cause: e });
  }
  return new JitVm(mem, env, factory(rt), rt.RES, maxInsns, code.source, code.chunks);
}

/** @internal Code generation knobs, for tests. */
export interface JitTuning {
  /** Source budget of one generated function (see ./codegen.ts CHUNK_SOURCE_CHARS). */
  chunkChars?: number;
}

/** Number of generated functions of a compiled VM (1 unless chunked), or 0 for the interpreter. */
export function jitChunks(vm: Vm): number {
  return vm instanceof JitVm ? vm.chunks : 0;
}

/** True when `vm` runs JIT-compiled code (false: compileVm fell back to the interpreter). */
export function isJitCompiled(vm: Vm): boolean {
  return vm instanceof JitVm;
}

/** The generated JavaScript of a compiled VM (for debugging and tests), or undefined. */
export function jitSource(vm: Vm): string | undefined {
  return vm instanceof JitVm ? vm.source : undefined;
}

class JitVm implements Vm {
  private running = false;

  constructor(
    private readonly mem: Memory,
    private readonly env: JitEnv,
    private readonly exec: Exec,
    private readonly res: Uint32Array,
    private readonly maxInsns: number,
    readonly source: string,
    readonly chunks: number,
  ) {}

  run(ctx: Uint8Array, task: TaskContext): bigint {
    const lo = this.enter(ctx, task);
    return (BigInt(this.res[0]!) << 32n) | BigInt(lo);
  }

  run32(ctx: Uint8Array, task: TaskContext): number {
    return this.enter(ctx, task);
  }

  private enter(ctx: Uint8Array, task: TaskContext): number {
    checkRunEntry(ctx, this.running);
    this.running = true;
    try {
      this.mem.beginRun(ctx);
      this.env.task = task;
      return this.exec(this.maxInsns);
    } finally {
      this.running = false;
    }
  }
}

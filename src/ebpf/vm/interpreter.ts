/**
 * @module ebpf/vm/interpreter
 * The reference eBPF interpreter: RFC 9669 base32/base64, divmul32/64, atomic32/64 and the
 * cpu-v4 additions (signed div/mod, movsx, memsx, bswap, gotol), lddw with map pseudo-loads,
 * helper calls and bpf-to-bpf calls, with exactly Linux's results for every edge case (see
 * ./alu.ts). Registers are u64 bigints: slow but obviously right; faster engines are tested
 * against this one.
 *
 * The program is decoded and its encoding checked once, in createVm (ERR_VM_BAD_INSN). A run
 * can fault with ERR_VM_MEMORY, ERR_VM_INSN_LIMIT, ERR_VM_BAD_INSN (fell off the end),
 * ERR_VM_CALL_DEPTH, ERR_VM_UNKNOWN_HELPER, ERR_VM_BAD_MAP, ERR_VM_HELPER; every fault is a
 * SeccompEbpfError with location.insn, and nothing else escapes `run`.
 */
import type { Insn } from '../insn.js';
import type { BpfMap } from '../maps/types.js';
import { MAP_HANDLE_BASE, mapHandle, type HelperDef, type HostServices, type TaskContext } from './types.js';
import * as abi from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { alu32, alu64, cond32, cond64, endian } from './alu.js';
import { decodeProgram, LD_CONST, LD_MAP_HANDLE, type DecodedProgram } from './decode.js';
import { attributeFault, checkRunEntry, vmFault } from './faults.js';
import { Memory } from './memory.js';

// Module-local copies of the constants used in the dispatch loop (see ./alu.ts).
const {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END, BPF_EXIT, BPF_FETCH, BPF_JA, BPF_JMP,
  BPF_JMP32, BPF_LD, BPF_LDX, BPF_MAP_TYPE_ARRAY, BPF_MEMSX, BPF_PSEUDO_CALL, BPF_ST, BPF_STX, BPF_XCHG,
  BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_F_RDONLY_PROG, BPF_X, MAX_CALL_FRAMES,
} = abi;

export interface VmOptions {
  /** Maps of the program; index = the imm of an lddw with BPF_PSEUDO_MAP_FD / MAP_VALUE. */
  maps: readonly BpfMap[];
  /** Helper table: call imm -> helper. */
  helpers: ReadonlyMap<number, HelperDef>;
  host: HostServices;
  /** Executed-instruction budget per run (default 1_000_000); exceeding it is ERR_VM_INSN_LIMIT. */
  maxInsns?: number;
}

export interface Vm {
  /** Runs the program on `ctx` (the 64-byte struct seccomp_data, read-only) and returns r0 (u64). */
  run(ctx: Uint8Array, task: TaskContext): bigint;
  /** Like `run`, but returns only the low 32 bits of r0 (the seccomp action) as an unsigned
   *  number: the supervisor's hot path, which a JIT (./jit) serves without any BigInt. */
  run32(ctx: Uint8Array, task: TaskContext): number;
}

/** Value of registers the program may not read (r1-r5 after a call, r0/r2-r9 at entry...). A
 *  pointer with this value faults: it is not in any region. */
export const VM_POISON = 0xbaad_f00d_dead_beefn;
export const DEFAULT_MAX_INSNS = 1_000_000;

const KNOWN_OPTIONS = new Set(['maps', 'helpers', 'host', 'maxInsns']);
const SIZES = [4, 2, 1, 8]; // BPF_W, BPF_H, BPF_B, BPF_DW >> 3

/**
 * Decodes `insns` and returns a VM ready to run them.
 * Throws ERR_VM_BAD_INSN for an invalid encoding and ERR_VM_BAD_OPTIONS for bad options.
 */
export function createVm(insns: readonly Insn[], opts: VmOptions): Vm {
  if (!Array.isArray(insns)) throw new SeccompEbpfError('ERR_VM_BAD_INSN', 'program must be an array of instructions');
  checkOptions(opts);
  return new Interpreter(decodeProgram(insns), opts);
}

function checkOptions(opts: VmOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', 'VM options must be an object');
  for (const k of Object.keys(opts)) if (!KNOWN_OPTIONS.has(k)) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', `unknown VM option '${k}'`);
  if (!Array.isArray(opts.maps)) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', 'maps must be an array');
  if (!(opts.helpers instanceof Map)) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', 'helpers must be a Map');
  if (typeof opts.host !== 'object' || opts.host === null) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', 'host is required');
  const m = opts.maxInsns;
  if (m !== undefined && (!Number.isSafeInteger(m) || m <= 0)) throw new SeccompEbpfError('ERR_VM_BAD_OPTIONS', `maxInsns must be a positive integer, got ${m}`);
}

class Interpreter implements Vm {
  private readonly mem = new Memory();
  private readonly regs: bigint[] = new Array<bigint>(11).fill(VM_POISON);
  /** Caller's r6-r9 and return slot per frame. */
  private readonly saved: bigint[] = new Array<bigint>(4 * MAX_CALL_FRAMES).fill(0n);
  private readonly retPc = new Int32Array(MAX_CALL_FRAMES);
  private readonly offB: bigint[];
  private readonly helperAt: (HelperDef | undefined)[];
  private readonly mapValueAt: (bigint | undefined)[];
  private readonly env: { mem: Memory; map(h: bigint): BpfMap; task: TaskContext; host: HostServices };
  private readonly maxInsns: number;
  private running = false;

  constructor(private readonly p: DecodedProgram, private readonly opts: VmOptions) {
    this.maxInsns = opts.maxInsns ?? DEFAULT_MAX_INSNS;
    this.offB = Array.from(p.off, (o) => BigInt(o));
    this.helperAt = Array.from(p.code, (c, i) =>
      c === (BPF_JMP | BPF_CALL) && p.src[i] === 0 ? opts.helpers.get(p.imm[i]!) : undefined);
    this.mapValueAt = new Array<bigint | undefined>(p.length).fill(undefined);
    const maps = opts.maps;
    this.env = {
      mem: this.mem,
      map(h: bigint): BpfMap {
        const i = typeof h === 'bigint' ? h - MAP_HANDLE_BASE : -1n;
        if (i < 0n || i >= BigInt(maps.length)) throw new SeccompEbpfError('ERR_VM_BAD_MAP', `0x${BigInt.asUintN(64, BigInt(h)).toString(16)} is not a map handle`);
        return maps[Number(i)]!;
      },
      task: undefined as unknown as TaskContext,
      host: opts.host,
    };
  }

  run(ctx: Uint8Array, task: TaskContext): bigint {
    checkRunEntry(ctx, this.running);
    this.running = true;
    try {
      this.mem.beginRun(ctx);
      this.env.task = task;
      return this.exec();
    } finally {
      this.running = false;
    }
  }

  run32(ctx: Uint8Array, task: TaskContext): number {
    return Number(BigInt.asUintN(32, this.run(ctx, task)));
  }

  private exec(): bigint {
    const { p, mem, regs: r, offB, saved, retPc } = this;
    const { code: C, dst: D, src: S, off: OFF, imm: IMM, target: T, k64: K64, k32: K32, kind: KIND, length: n } = p;
    const fps = mem.framePointers;
    let pc = 0;
    let frame = 0;
    let budget = this.maxInsns;
    let helperName: string | undefined;
    r.fill(VM_POISON);
    r[1] = mem.ctxAddr;
    r[10] = fps[0]!;
    mem.clearStack(0);
    try {
      for (;;) {
        if (pc >= n) throw vmFault('ERR_VM_BAD_INSN', 'execution fell off the end of the program (no exit)', n - 1);
        if (--budget < 0) throw vmFault('ERR_VM_INSN_LIMIT', `instruction budget of ${this.maxInsns} exhausted (infinite loop?)`, pc);
        const code = C[pc]!;
        const d = D[pc]!;
        switch (code & 7) {
          case BPF_ALU64: {
            const op = code & 0xf0;
            if (op === BPF_END) r[d] = endian(r[d]!, IMM[pc]!, true);
            else r[d] = alu64(op, r[d]!, code & BPF_X ? r[S[pc]!]! : K64[pc]!, OFF[pc]!);
            pc++;
            break;
          }
          case BPF_ALU: {
            const op = code & 0xf0;
            if (op === BPF_END) r[d] = endian(r[d]!, IMM[pc]!, (code & BPF_X) !== 0);
            else {
              const b = code & BPF_X ? Number(r[S[pc]!]! & 0xffff_ffffn) : K32[pc]!;
              r[d] = BigInt(alu32(op, Number(r[d]! & 0xffff_ffffn), b, OFF[pc]!));
            }
            pc++;
            break;
          }
          case BPF_JMP: {
            const op = code & 0xf0;
            if (op === BPF_JA) { pc = T[pc]!; break; }
            if (op === BPF_CALL) {
              if (S[pc] === BPF_PSEUDO_CALL) {
                if (frame + 1 >= MAX_CALL_FRAMES) throw vmFault('ERR_VM_CALL_DEPTH', `call depth exceeds ${MAX_CALL_FRAMES} frames`, pc);
                const s = frame * 4;
                saved[s] = r[6]!; saved[s + 1] = r[7]!; saved[s + 2] = r[8]!; saved[s + 3] = r[9]!;
                retPc[frame] = pc + 1;
                frame++;
                mem.clearStack(frame);
                r[0] = r[6] = r[7] = r[8] = r[9] = VM_POISON;
                r[10] = fps[frame]!;
                pc = T[pc]!;
                break;
              }
              const h = this.helperAt[pc];
              if (h === undefined) throw vmFault('ERR_VM_UNKNOWN_HELPER', `unknown helper id ${IMM[pc]}`, pc);
              helperName = h.name;
              mem.currentInsn = pc;
              const res = h.fn(this.env, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!);
              helperName = undefined;
              if (typeof res !== 'bigint') throw vmFault('ERR_VM_HELPER', `helper ${h.name} returned ${typeof res}, not a bigint`, pc);
              r[0] = BigInt.asUintN(64, res);
              r[1] = r[2] = r[3] = r[4] = r[5] = VM_POISON;
              pc++;
              break;
            }
            if (op === BPF_EXIT) {
              if (frame === 0) return r[0]!;
              frame--;
              const s = frame * 4;
              r[6] = saved[s]!; r[7] = saved[s + 1]!; r[8] = saved[s + 2]!; r[9] = saved[s + 3]!;
              r[1] = r[2] = r[3] = r[4] = r[5] = VM_POISON;
              r[10] = fps[frame]!;
              pc = retPc[frame]!;
              break;
            }
            pc = cond64(op, r[d]!, code & BPF_X ? r[S[pc]!]! : K64[pc]!) ? T[pc]! : pc + 1;
            break;
          }
          case BPF_JMP32: {
            const op = code & 0xf0;
            if (op === BPF_JA) { pc = T[pc]!; break; }
            const b = code & BPF_X ? Number(r[S[pc]!]! & 0xffff_ffffn) : K32[pc]!;
            pc = cond32(op, Number(r[d]! & 0xffff_ffffn), b) ? T[pc]! : pc + 1;
            break;
          }
          case BPF_LDX: {
            const size = SIZES[(code >> 3) & 3]!;
            const reg = mem.resolve(BigInt.asUintN(64, r[S[pc]!]! + offB[pc]!), size, 'read', pc);
            const o = mem.offset, dv = reg.dv;
            if ((code & 0xe0) === BPF_MEMSX) {
              const v = size === 1 ? dv.getInt8(o) : size === 2 ? dv.getInt16(o, true) : dv.getInt32(o, true);
              r[d] = BigInt.asUintN(64, BigInt(v));
            } else {
              r[d] = size === 8 ? dv.getBigUint64(o, true)
                : BigInt(size === 4 ? dv.getUint32(o, true) : size === 2 ? dv.getUint16(o, true) : dv.getUint8(o));
            }
            pc++;
            break;
          }
          case BPF_ST:
          case BPF_STX: {
            const size = SIZES[(code >> 3) & 3]!;
            const addr = BigInt.asUintN(64, r[d]! + offB[pc]!);
            if ((code & 0xe0) === BPF_ATOMIC) { this.atomic(addr, size, pc); pc++; break; }
            const reg = mem.resolve(addr, size, 'write', pc);
            const v = (code & 7) === BPF_ST ? K64[pc]! : r[S[pc]!]!;
            const o = mem.offset, dv = reg.dv;
            if (size === 8) dv.setBigUint64(o, v, true);
            else {
              const lo = Number(v & 0xffff_ffffn);
              if (size === 4) dv.setUint32(o, lo, true);
              else if (size === 2) dv.setUint16(o, lo & 0xffff, true);
              else dv.setUint8(o, lo & 0xff);
            }
            pc++;
            break;
          }
          case BPF_LD: { // lddw (the only BPF_LD the decoder accepts)
            const kind = KIND[pc];
            if (kind === LD_CONST) r[d] = K64[pc]!;
            else if (kind === LD_MAP_HANDLE) r[d] = this.mapHandleAt(pc);
            else r[d] = this.mapValueAt[pc] ?? this.resolveMapValue(pc);
            pc += 2;
            break;
          }
          default:
            throw vmFault('ERR_VM_BAD_INSN', `invalid opcode 0x${code.toString(16)}`, pc);
        }
      }
    } catch (e) {
      throw attributeFault(e, pc, helperName);
    }
  }

  /** STX|ATOMIC: ADD/OR/AND/XOR (optionally FETCH), XCHG, CMPXCHG on 4 or 8 aligned bytes. */
  private atomic(addr: bigint, size: number, pc: number): void {
    const r = this.regs;
    const op = this.p.kind[pc]!;
    const s = this.p.src[pc]!;
    const reg = this.mem.resolve(addr, size, 'atomic', pc);
    const o = this.mem.offset, dv = reg.dv;
    const wide = size === 8;
    const old = wide ? dv.getBigUint64(o, true) : BigInt(dv.getUint32(o, true));
    const sv = wide ? r[s]! : r[s]! & 0xffff_ffffn;
    let nv: bigint;
    switch (op & ~BPF_FETCH) {
      case BPF_ADD: nv = old + sv; break;
      case BPF_OR: nv = old | sv; break;
      case BPF_AND: nv = old & sv; break;
      case BPF_XOR: nv = old ^ sv; break;
      case BPF_XCHG & ~BPF_FETCH: nv = sv; break;
      default: { // CMPXCHG: compare with r0 (low half for W); r0 always receives the old value
        const expect = wide ? r[0]! : r[0]! & 0xffff_ffffn;
        nv = old === expect ? sv : old;
        r[0] = old;
      }
    }
    if (wide) dv.setBigUint64(o, BigInt.asUintN(64, nv), true);
    else dv.setUint32(o, Number(nv & 0xffff_ffffn), true);
    if ((op & BPF_FETCH) !== 0 && op !== BPF_CMPXCHG) r[s] = old;
  }

  private mapIndex(pc: number): number {
    const i = this.p.imm[pc]!;
    if (i < 0 || i >= this.opts.maps.length) {
      throw vmFault('ERR_VM_BAD_MAP', `map index ${i} out of range (program has ${this.opts.maps.length} maps)`, pc);
    }
    return i;
  }

  private mapHandleAt(pc: number): bigint {
    return mapHandle(this.mapIndex(pc));
  }

  /** lddw src=BPF_PSEUDO_MAP_VALUE, resolved once per instruction and cached. */
  private resolveMapValue(pc: number): bigint {
    const addr = mapValueAddress(this.mem, this.opts.maps[this.mapIndex(pc)]!, Number(this.p.k64[pc]!), pc);
    this.mapValueAt[pc] = addr;
    return addr;
  }

}

/**
 * lddw src=BPF_PSEUDO_MAP_VALUE (shared by the interpreter and the JIT): the address of the
 * single value of an array map plus `off`, in a pinned region (the engines cache it).
 */
export function mapValueAddress(mem: Memory, m: BpfMap, off: number, pc: number): bigint {
  const spec = m.spec;
  if (spec.type !== BPF_MAP_TYPE_ARRAY || spec.maxEntries !== 1) {
    throw vmFault('ERR_VM_BAD_MAP', `map value pseudo-load needs an array map with one entry; ${spec.name} is type ${spec.type} with ${spec.maxEntries} entries`, pc);
  }
  if (off >= spec.valueSize) throw vmFault('ERR_VM_BAD_MAP', `offset ${off} beyond the ${spec.valueSize}-byte value of map ${spec.name}`, pc);
  const view = m.lookup(new Uint8Array(4));
  if (view === undefined) throw vmFault('ERR_VM_BAD_MAP', `map ${spec.name} has no value at key 0`, pc);
  const writable = !spec.readOnly && (spec.flags & BPF_F_RDONLY_PROG) === 0;
  return mem.pointerToRegion(view, writable, true, `value of map ${spec.name}`) + BigInt(off);
}

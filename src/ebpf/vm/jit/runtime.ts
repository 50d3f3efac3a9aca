/**
 * @module ebpf/vm/jit/runtime
 * What the generated code calls: the rare arithmetic (64-bit MUL/DIV/MOD, 32-bit signed
 * DIV/MOD), helper calls (BigInt at the boundary only), lazy map-value lddw resolution, and
 * the fault constructors. Results with two halves go to OUT[0] (low) and OUT[1] (high).
 *
 * Faults are built with ../faults.ts exactly as the interpreter builds them (same codes,
 * messages and location.insn).
 */
import { MAX_CALL_FRAMES } from '../../../abi/bpf.js';
import { SeccompEbpfError } from '../../../errors.js';
import type { BpfMap } from '../../maps/types.js';
import { alu32, alu64 } from '../alu.js';
import type { DecodedProgram } from '../decode.js';
import { attributeFault, vmFault } from '../faults.js';
import type { Memory } from '../memory.js';
import { mapValueAddress } from '../interpreter.js';
import { MAP_HANDLE_BASE, type HelperDef, type HostServices, type TaskContext } from '../types.js';

const TWO32 = 4294967296;
const big = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);

/** The environment helpers receive (the same shape as the interpreter's). */
export interface JitEnv {
  mem: Memory;
  map(h: bigint): BpfMap;
  task: TaskContext;
  host: HostServices;
}

/** The runtime object handed to the generated factory (names: ./codegen.ts RUNTIME_NAMES). */
export interface JitRuntime {
  M: Memory;
  OUT: Uint32Array;
  RES: Uint32Array;
  SV: Uint32Array;
  RP: Int32Array;
  FPL: Uint32Array;
  FPH: Uint32Array;
  /** DataView of each frame's stack. */
  SDV: DataView[];
  /** Per frame: 1 when its stack may have been written since it was last zeroed. */
  D: Uint8Array;
  MVOK: Uint8Array;
  MVL: Uint32Array;
  MVH: Uint32Array;
  /** Chunked code only: slot -> chunk holding the block starting there, or -1. */
  CHUNK_OF: Int32Array | undefined;
  MUL64(al: number, ah: number, bl: number, bh: number): void;
  DIV64(op: number, off: number, al: number, ah: number, bl: number, bh: number): void;
  ALU32(op: number, a: number, b: number, off: number): number;
  CALLH(i: number, ...args: number[]): void;
  MAPVAL(i: number): void;
  LIMIT(i: number): SeccompEbpfError;
  FELL(): SeccompEbpfError;
  DEPTH(i: number): SeccompEbpfError;
  UNKNOWN(i: number): SeccompEbpfError;
  BADMAP(i: number): SeccompEbpfError;
  AF(e: unknown, pc: number): SeccompEbpfError;
}

export interface RuntimeInput {
  p: DecodedProgram;
  mem: Memory;
  env: JitEnv;
  maps: readonly BpfMap[];
  helperAt: readonly (HelperDef | undefined)[];
  maxInsns: number;
}

/** Builds the runtime of one compiled program. */
export function createRuntime(inp: RuntimeInput): JitRuntime {
  const { p, mem, env, maps, helperAt, maxInsns } = inp;
  const OUT = new Uint32Array(2);
  const FPL = new Uint32Array(MAX_CALL_FRAMES), FPH = new Uint32Array(MAX_CALL_FRAMES);
  mem.framePointers.forEach((fp, f) => { FPL[f] = Number(fp & 0xffff_ffffn); FPH[f] = Number(fp >> 32n); });
  const MVOK = new Uint8Array(p.length), MVL = new Uint32Array(p.length), MVH = new Uint32Array(p.length);
  const SDV = Array.from(FPH, (hi) => mem.resolveLoHi(0, hi, 0, 'read', undefined).dv);
  const D = new Uint8Array(MAX_CALL_FRAMES); // a new Memory's stacks are zero

  const badMap = (i: number): SeccompEbpfError =>
    vmFault('ERR_VM_BAD_MAP', `map index ${p.imm[i]} out of range (program has ${maps.length} maps)`, i);
  const mapIndex = (i: number): number => {
    const m = p.imm[i]!;
    if (m < 0 || m >= maps.length) throw badMap(i);
    return m;
  };

  return {
    M: mem, OUT, RES: new Uint32Array(1), SV: new Uint32Array(8 * MAX_CALL_FRAMES), RP: new Int32Array(MAX_CALL_FRAMES),
    FPL, FPH, SDV, D, MVOK, MVL, MVH, CHUNK_OF: undefined,

    MUL64(al, ah, bl, bh) {
      // Low 64 bits of a * b: al * bl in full (16-bit limbs keep every product exact), plus the
      // low 32 bits of the cross products in the high word.
      const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
      const mid = a0 * b1 + a1 * b0; // < 2^33
      const lo = a0 * b0 + (mid % 65536) * 65536; // < 2^33
      const hi = a1 * b1 + Math.floor(mid / 65536) + Math.floor(lo / TWO32);
      OUT[0] = lo >>> 0;
      OUT[1] = (hi + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
    },

    DIV64(op, off, al, ah, bl, bh) {
      if (ah === 0 && bh === 0) { // both below 2^32: non-negative as signed too, so signedness is moot
        const r = alu32(op, al, bl, 0);
        OUT[0] = r;
        OUT[1] = 0;
        return;
      }
      const r = alu64(op, big(al, ah), big(bl, bh), off);
      OUT[0] = Number(r & 0xffff_ffffn);
      OUT[1] = Number(r >> 32n);
    },

    ALU32: alu32,

    CALLH(i, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5) {
      const h = helperAt[i]!;
      mem.currentInsn = i;
      D.fill(1); // a helper may write any stack through a pointer argument
      let res: bigint;
      try {
        res = h.fn(env, big(l1!, h1!), big(l2!, h2!), big(l3!, h3!), big(l4!, h4!), big(l5!, h5!));
      } catch (e) {
        throw attributeFault(e, i, h.name);
      }
      if (typeof res !== 'bigint') throw vmFault('ERR_VM_HELPER', `helper ${h.name} returned ${typeof res}, not a bigint`, i);
      const r = BigInt.asUintN(64, res);
      OUT[0] = Number(r & 0xffff_ffffn);
      OUT[1] = Number(r >> 32n);
    },

    // lddw src=BPF_PSEUDO_MAP_VALUE: resolved once, then read from MVL/MVH by the generated code.
    MAPVAL(i) {
      const addr = mapValueAddress(mem, maps[mapIndex(i)]!, Number(p.k64[i]!), i);
      MVL[i] = Number(addr & 0xffff_ffffn);
      MVH[i] = Number(addr >> 32n);
      MVOK[i] = 1;
    },

    LIMIT: (i) => vmFault('ERR_VM_INSN_LIMIT', `instruction budget of ${maxInsns} exhausted (infinite loop?)`, i),
    FELL: () => vmFault('ERR_VM_BAD_INSN', 'execution fell off the end of the program (no exit)', p.length - 1),
    DEPTH: (i) => vmFault('ERR_VM_CALL_DEPTH', `call depth exceeds ${MAX_CALL_FRAMES} frames`, i),
    UNKNOWN: (i) => vmFault('ERR_VM_UNKNOWN_HELPER', `unknown helper id ${p.imm[i]}`, i),
    BADMAP: badMap,
    // Faults thrown above already carry their instruction; anything else is a bug, placed at the
    // current block (pc is the last dispatched block's first slot).
    AF: (e, pc) => attributeFault(e, pc, undefined),
  };
}

/** The helper environment, as the interpreter builds it. */
export function createEnv(mem: Memory, maps: readonly BpfMap[], host: HostServices): JitEnv {
  return {
    mem,
    map(h: bigint): BpfMap {
      const i = typeof h === 'bigint' ? h - MAP_HANDLE_BASE : -1n;
      if (i < 0n || i >= BigInt(maps.length)) throw new SeccompEbpfError('ERR_VM_BAD_MAP', `0x${BigInt.asUintN(64, BigInt(h)).toString(16)} is not a map handle`);
      return maps[Number(i)]!;
    },
    task: undefined as unknown as TaskContext,
    host,
  };
}

/**
 * @module ebpf/vm/types
 * The contract between the VM (interpreter), the helpers and whoever runs a program (the
 * supervisor, tests, the kernel model). Pure: no node:* imports.
 */
import type { BpfMap } from '../maps/types.js';

/**
 * The VM's address space as helpers see it. Addresses are 64-bit values; each region (the
 * 64-byte seccomp_data context, the stack, a map value, a ring buffer record...) has its own
 * base. Every access is bounds- and permission-checked.
 */
export interface VmMemory {
  /** View of [addr, addr + len) inside one region; throws a VmFault if out of bounds, or if
   *  `write` is set and the region is read-only. len may be 0 (then addr is not checked). */
  slice(addr: bigint, len: number, write: boolean): Uint8Array;
  /** A pointer to `view` (which aliases storage owned by a map, e.g. a map value). The same
   *  (buffer, byteOffset, length) always yields the same address within one VM. */
  pointerTo(view: Uint8Array, writable: boolean): bigint;
  /** Makes a pointer returned by pointerTo invalid again (ring buffer submit/discard). */
  release(addr: bigint): void;
}

/** The task whose syscall is being filtered. Getters are lazy: they may read /proc. */
export interface TaskContext {
  /** Thread id, as the supervisor's pid namespace sees it. */
  readonly tid: number;
  tgid(): number;
  uid(): number;
  gid(): number;
  /** Thread name (TASK_COMM_LEN 16, including NUL). */
  comm(): string;
  /** CPU the task last ran on. */
  cpu(): number;
  /** Key identifying the thread-group leader for task storage (stable across tid reuse). */
  leaderKey(): string;
  /** Reads target memory. Returns the bytes (exactly len) or a negative errno (-EFAULT...). */
  readMemory(addr: bigint, len: number): Uint8Array | number;
}

/** Services of the host the VM runs on. */
export interface HostServices {
  monotonicNs(): bigint;
  boottimeNs(): bigint;
  coarseNs(): bigint;
  random32(): number;
  /** Number of possible CPUs (size of per-CPU maps). */
  readonly possibleCpus: number;
  /** Receives trace_printk output (one formatted line, without trailing newline). */
  tracePrintk(line: string): void;
}

/** What a helper receives besides its five arguments. */
export interface HelperEnv {
  readonly mem: VmMemory;
  /** Resolves a map handle (the value an lddw with BPF_PSEUDO_MAP_FD puts in a register). */
  map(handle: bigint): BpfMap;
  readonly task: TaskContext;
  readonly host: HostServices;
}

/** A helper: r1..r5 in, r0 out (all as unsigned 64-bit bigints). */
export type HelperFn = (env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

export interface HelperDef {
  id: number;
  name: string;
  fn: HelperFn;
}

/** Map handles live in their own address range so they are never valid data pointers. */
export const MAP_HANDLE_BASE = 0xffff_8000_0000_0000n;
export const mapHandle = (mapIndex: number): bigint => MAP_HANDLE_BASE + BigInt(mapIndex);

/**
 * @module ebpf/vm/simulated
 * A simulated task and host for tests and simulation: fixed identities, a fake user address
 * space made of (addr, bytes) mappings, a deterministic clock and random source, and a
 * trace_printk sink that records lines. The real TaskContext (reading /proc and the target's
 * memory) and HostServices live with the supervisor.
 */
import { EFAULT } from '../maps/errno.js';
import type { HostServices, TaskContext } from './types.js';

export interface UserMapping {
  addr: bigint;
  bytes: Uint8Array;
}

export interface SimulatedTaskOptions {
  /** Thread id (default 1000). */
  tid?: number;
  /** Thread group id (default: tid). */
  tgid?: number;
  uid?: number;
  gid?: number;
  /** Thread name (default "sim"). */
  comm?: string;
  /** CPU the task runs on (default 0). */
  cpu?: number;
  /** Task storage key of the group leader (default `sim:<tgid>`). */
  leaderKey?: string;
  /** get_dumpable() of the task's mm: 0 SUID_DUMP_DISABLE, 1 USER, 2 ROOT (default 1). */
  dumpable?: number;
  /** Readable user memory; a read must fall entirely inside mappings (adjacent ones join). */
  memory?: UserMapping[];
}

/** A TaskContext whose fields tests may change between runs, plus dumpable() and a read log. */
export class SimulatedTask implements TaskContext {
  tid: number;
  info: { tgid: number; uid: number; gid: number; comm: string; cpu: number; leaderKey: string; dumpable: number };
  memory: UserMapping[];
  /** Every readMemory call, in order. */
  readonly reads: Array<{ addr: bigint; len: number }> = [];

  constructor(opts: SimulatedTaskOptions = {}) {
    this.tid = opts.tid ?? 1000;
    const tgid = opts.tgid ?? this.tid;
    this.info = {
      tgid,
      uid: opts.uid ?? 1000,
      gid: opts.gid ?? 1000,
      comm: opts.comm ?? 'sim',
      cpu: opts.cpu ?? 0,
      leaderKey: opts.leaderKey ?? `sim:${tgid}`,
      dumpable: opts.dumpable ?? 1,
    };
    this.memory = opts.memory ?? [];
  }

  tgid(): number {
    return this.info.tgid;
  }
  uid(): number {
    return this.info.uid;
  }
  gid(): number {
    return this.info.gid;
  }
  comm(): string {
    return this.info.comm;
  }
  cpu(): number {
    return this.info.cpu;
  }
  leaderKey(): string {
    return this.info.leaderKey;
  }
  dumpable(): number {
    return this.info.dumpable;
  }

  readMemory(addr: bigint, len: number): Uint8Array | number {
    this.reads.push({ addr, len });
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const at = addr + BigInt(done);
      const m = this.memory.find((x) => at >= x.addr && at < x.addr + BigInt(x.bytes.length));
      if (!m) return -EFAULT;
      const from = Number(at - m.addr);
      const n = Math.min(len - done, m.bytes.length - from);
      out.set(m.bytes.subarray(from, from + n), done);
      done += n;
    }
    return out;
  }
}

export function simulatedTask(opts: SimulatedTaskOptions = {}): SimulatedTask {
  return new SimulatedTask(opts);
}

export interface SimulatedHostOptions {
  /** Default 2. */
  possibleCpus?: number;
  /** First CLOCK_MONOTONIC reading (default 1e9 ns). */
  startNs?: bigint;
  /** Each clock reading advances the clock by this much (default 1000 ns). */
  stepNs?: bigint;
  /** CLOCK_BOOTTIME minus CLOCK_MONOTONIC (time spent suspended; default 0). */
  suspendedNs?: bigint;
  /** Seed of the xorshift32 random source (default 1; 0 is replaced by 1). */
  seed?: number;
}

/** HostServices with a stepping clock, a seeded random source and recorded printk lines. */
export class SimulatedHost implements HostServices {
  readonly possibleCpus: number;
  /** Lines passed to tracePrintk, in order. */
  readonly lines: string[] = [];
  private now: bigint;
  private readonly step: bigint;
  private readonly suspended: bigint;
  private state: number;

  constructor(opts: SimulatedHostOptions = {}) {
    this.possibleCpus = opts.possibleCpus ?? 2;
    this.now = opts.startNs ?? 1_000_000_000n;
    this.step = opts.stepNs ?? 1000n;
    this.suspended = opts.suspendedNs ?? 0n;
    this.state = (opts.seed ?? 1) | 0 || 1;
  }

  private tick(): bigint {
    const t = this.now;
    this.now += this.step;
    return t;
  }

  monotonicNs(): bigint {
    return this.tick();
  }
  boottimeNs(): bigint {
    return this.tick() + this.suspended;
  }
  /** CLOCK_MONOTONIC_COARSE: the clock truncated to a 4 ms tick (HZ=250). */
  coarseNs(): bigint {
    const t = this.tick();
    return t - (t % 4_000_000n);
  }
  random32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x >>> 0;
  }
  tracePrintk(line: string): void {
    this.lines.push(line);
  }
}

export function simulatedHost(opts: SimulatedHostOptions = {}): SimulatedHost {
  return new SimulatedHost(opts);
}

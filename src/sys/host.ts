/**
 * @module sys/host
 * The real {@link HostServices}: kernel clocks through the addon (the same clock ids the
 * kernel's bpf_ktime_get_*_ns helpers read), crypto-quality random numbers, the number of
 * possible CPUs, and where trace_printk output goes.
 */
import { getRandomValues } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { SeccompEbpfError } from '../errors.js';
import type { HostServices } from '../ebpf/vm/types.js';
import { loadAddon } from '../native/addon.js';

const CLOCK_MONOTONIC = 1;
const CLOCK_MONOTONIC_COARSE = 6;
const CLOCK_BOOTTIME = 7;

/** Number of CPUs described by a kernel cpu list ("0-3,8-11" → 12: highest id + 1, as libbpf
 *  sizes per-CPU maps). */
export function parseCpuList(text: string): number {
  let max = -1;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new SeccompEbpfError('ERR_HOST_CPU_LIST', `malformed cpu list: ${JSON.stringify(text)}`);
    max = Math.max(max, Number(m[2] ?? m[1]));
  }
  return max + 1;
}

function possibleCpus(): number {
  try {
    return parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'latin1'));
  } catch {
    return Math.max(1, cpus().length);
  }
}

function clock(id: number): () => bigint {
  return () => {
    const ns = loadAddon().clockGetTime(id);
    // Cannot fail for these clock ids on Linux >= 2.6.39; keep the contract if it ever does.
    return ns < 0n ? 0n : ns;
  };
}

/** HostServices of this machine. trace_printk lines go to `tracePrintk` (default: stderr). */
export function systemHost(tracePrintk?: (line: string) => void): HostServices {
  const pool = new Uint32Array(256);
  let next = pool.length;
  return {
    monotonicNs: clock(CLOCK_MONOTONIC),
    boottimeNs: clock(CLOCK_BOOTTIME),
    coarseNs: clock(CLOCK_MONOTONIC_COARSE),
    random32(): number {
      if (next === pool.length) {
        getRandomValues(pool);
        next = 0;
      }
      return pool[next++]!;
    },
    possibleCpus: possibleCpus(),
    tracePrintk: tracePrintk ?? ((line: string) => void process.stderr.write(`${line}\n`)),
  };
}

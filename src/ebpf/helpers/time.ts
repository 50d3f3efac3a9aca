/**
 * @module ebpf/helpers/time
 * Clocks, randomness and CPU identity: bpf_ktime_get_ns (CLOCK_MONOTONIC),
 * bpf_ktime_get_boot_ns (CLOCK_BOOTTIME), bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC_COARSE),
 * bpf_get_prandom_u32, bpf_get_smp_processor_id, bpf_get_numa_node_id.
 */
import type { HelperEnv } from '../vm/types.js';
import { ret } from './util.js';

export const ktimeGetNs = (env: HelperEnv): bigint => ret(env.host.monotonicNs());
export const ktimeGetBootNs = (env: HelperEnv): bigint => ret(env.host.boottimeNs());
export const ktimeGetCoarseNs = (env: HelperEnv): bigint => ret(env.host.coarseNs());
export const getPrandomU32 = (env: HelperEnv): bigint => BigInt(env.host.random32() >>> 0);
/** The CPU the filtered task last ran on: the kernel runs the filter on the task's CPU. */
export const getSmpProcessorId = (env: HelperEnv): bigint => BigInt(env.task.cpu() >>> 0);
/** Always node 0: the runtime does not track NUMA placement. */
export const getNumaNodeId = (): bigint => 0n;

/**
 * @module ebpf/helpers
 * The helper table: BPF_FUNC id → implementation, with stock kernel semantics. Which helpers a
 * given program may call (the series' privilege rules, spec section 3.5) is the verifier's
 * decision; this table holds every helper the runtime implements.
 *
 * Not implemented (the verifier must refuse them): tail_call, get_current_task(_btf),
 * jiffies64 and any id not in the table.
 */
import { BPF_FUNC } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import type { HelperDef, HelperFn } from '../vm/types.js';
import { mapDeleteElem, mapLookupElem, mapUpdateElem } from './maps.js';
import { tracePrintk } from './printk.js';
import {
  probeReadCompat,
  probeReadCompatStr,
  probeReadKernel,
  probeReadKernelStr,
  probeReadUser,
  probeReadUserDumpable,
  probeReadUserStr,
  probeReadUserStrDumpable,
} from './probe.js';
import { ringbufDiscard, ringbufOutput, ringbufQuery, ringbufReserve, ringbufSubmit } from './ringbuf.js';
import { taskStorageDelete, taskStorageGet } from './storage.js';
import { getCurrentComm, getCurrentPidTgid, getCurrentUidGid } from './task.js';
import { getNumaNodeId, getPrandomU32, getSmpProcessorId, ktimeGetBootNs, ktimeGetCoarseNs, ktimeGetNs } from './time.js';

export interface HelperOptions {
  /**
   * Which bpf_probe_read_user(_str) to install: 'stock' (the loader had CAP_SYS_PTRACE) or
   * 'dumpable' (the series' variant for other loaders: -EPERM when the filtered task is not
   * dumpable; needs a DumpableTask). Default 'stock'.
   */
  probeReadUser?: 'stock' | 'dumpable';
}

const NAMES = new Map<number, string>(Object.entries(BPF_FUNC).map(([name, id]) => [id, name]));

/** The kernel's name for a helper id ("bpf_map_lookup_elem"), or "unknown#<id>". */
export function helperName(id: number): string {
  const n = NAMES.get(id);
  return n !== undefined ? `bpf_${n}` : `unknown#${id}`;
}

/** Builds the helper table. Throws ERR_HELPER_OPTIONS for an unknown option. */
export function createHelpers(opts: HelperOptions = {}): ReadonlyMap<number, HelperDef> {
  for (const k of Object.keys(opts)) {
    if (k !== 'probeReadUser') throw new SeccompEbpfError('ERR_HELPER_OPTIONS', `createHelpers: unknown option "${k}"`);
  }
  const variant = opts.probeReadUser ?? 'stock';
  if (variant !== 'stock' && variant !== 'dumpable') {
    throw new SeccompEbpfError('ERR_HELPER_OPTIONS', `createHelpers: probeReadUser must be 'stock' or 'dumpable', got ${String(variant)}`);
  }
  const dumpable = variant === 'dumpable';
  const fns: Array<[number, HelperFn]> = [
    [BPF_FUNC.map_lookup_elem, mapLookupElem],
    [BPF_FUNC.map_update_elem, mapUpdateElem],
    [BPF_FUNC.map_delete_elem, mapDeleteElem],
    [BPF_FUNC.probe_read, probeReadCompat],
    [BPF_FUNC.ktime_get_ns, ktimeGetNs],
    [BPF_FUNC.trace_printk, tracePrintk],
    [BPF_FUNC.get_prandom_u32, getPrandomU32],
    [BPF_FUNC.get_smp_processor_id, getSmpProcessorId],
    [BPF_FUNC.get_current_pid_tgid, getCurrentPidTgid],
    [BPF_FUNC.get_current_uid_gid, getCurrentUidGid],
    [BPF_FUNC.get_current_comm, getCurrentComm],
    [BPF_FUNC.get_numa_node_id, getNumaNodeId],
    [BPF_FUNC.probe_read_str, probeReadCompatStr],
    [BPF_FUNC.probe_read_user, dumpable ? probeReadUserDumpable : probeReadUser],
    [BPF_FUNC.probe_read_kernel, probeReadKernel],
    [BPF_FUNC.probe_read_user_str, dumpable ? probeReadUserStrDumpable : probeReadUserStr],
    [BPF_FUNC.probe_read_kernel_str, probeReadKernelStr],
    [BPF_FUNC.ktime_get_boot_ns, ktimeGetBootNs],
    [BPF_FUNC.ringbuf_output, ringbufOutput],
    [BPF_FUNC.ringbuf_reserve, ringbufReserve],
    [BPF_FUNC.ringbuf_submit, ringbufSubmit],
    [BPF_FUNC.ringbuf_discard, ringbufDiscard],
    [BPF_FUNC.ringbuf_query, ringbufQuery],
    [BPF_FUNC.task_storage_get, taskStorageGet],
    [BPF_FUNC.task_storage_delete, taskStorageDelete],
    [BPF_FUNC.ktime_get_coarse_ns, ktimeGetCoarseNs],
  ];
  return new Map(fns.map(([id, fn]) => [id, { id, name: helperName(id), fn }]));
}

export { bprintf, MAX_BPRINTF_BIN_ARGS, MAX_BPRINTF_BUF } from './printk.js';
export type { BprintfResult, BprintfSources } from './printk.js';
export type { DumpableTask } from './probe.js';
export { USER_ADDR_LIMIT } from './probe.js';
export { discardOutstandingRecords } from './ringbuf.js';

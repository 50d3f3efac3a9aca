/**
 * @module supervisor/worker
 * Entry point of the supervisor's worker thread: re-opens the shared maps, builds the VM and
 * runs the notification loop (./loop.ts) until the spawned process exits. Started by
 * ./supervisor.ts with a WorkerInit as workerData.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSharedMap } from '../ebpf/maps/create.js';
import { compileVm } from '../ebpf/vm/jit/index.js';
import { helpersFromGrant } from '../ebpf/verifier/load.js';
import { withDumpable } from '../sys/dumpable.js';
import { loadAddon } from '../native/addon.js';
import { systemHost } from '../sys/host.js';
import { procTask } from '../sys/task.js';
import { LogSink, type LogTarget } from './log.js';
import { runNotificationLoop } from './loop.js';
import type { WorkerInit, WorkerMessage } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (msg: WorkerMessage): void => port.postMessage(msg);

const target: LogTarget =
  init.log.kind === 'fd' ? { kind: 'fd', fd: init.log.fd }
  : init.log.kind === 'callback' ? { kind: 'callback', send: (records) => post({ type: 'log', records }) }
  : { kind: 'stderr' };
const sink = new LogSink(target);

// Wall clock in ns from one Date.now() reading plus the monotonic clock.
const tsBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const now = (): bigint => tsBase + process.hrtime.bigint();

let currentTid = 0;
// trace_printk lines go to the decision log (or stderr), tagged with the running thread.
const host = systemHost((line) => sink.add({ ts: now(), tid: currentTid, trace: line }));

const maps = init.maps.map((s) => openSharedMap(s));
const vm = compileVm(init.insns, { maps, helpers: helpersFromGrant(init.grant), host });
// The dumpable variant of probe_read_user needs the target's dumpability (spec.md 3.7).
const dumpable = init.grant.probeReadUser === 'dumpable';

runNotificationLoop(init, {
  native: loadAddon(),
  vm,
  task: (tid) => {
    currentTid = tid;
    return dumpable ? withDumpable(procTask(tid)) : procTask(tid);
  },
  sink,
  post,
  now,
});

/**
 * @module bench/run
 * `npm run bench` (node --import tsx bench/run.ts [--quick] [--only getpid|workloads|vm] [--charts]):
 * the series' getpid table (./getpid.ts), the real workloads (./workloads.ts) and the cost of
 * one filter run, interpreter against JIT (./vm.ts), printed as tables and written to
 * bench/results/ (getpid.json, getpid.svg, workloads.json, workloads.svg, vm.json; see
 * BENCH_OUT). docs/benchmarks.md explains the rows and the method. --charts only redraws the
 * SVGs from the JSON files.
 *
 * Environment: BENCH_N (getpid calls, default 1,000,000; 100,000 with --quick), BENCH_N_NOSYNC
 * (calls of the rows without sync wake-up, ~70 µs each here: default 100,000; 20,000 with
 * --quick), BENCH_RUNS (interleaved rounds of the getpid table, median taken; default 5, 3
 * with --quick), BENCH_WORKLOAD_RUNS (rounds of the real workloads: default 9, 3 with --quick),
 * BENCH_NICE (our scheduling priority, inherited by everything measured: default -10),
 * BENCH_OUT (where results go: default bench/results, or $TMPDIR/seccomp-ebpf-bench-results
 * with --quick, so that a quick run does not replace the figures the docs quote).
 * Exit status: 0, or 1 when a run failed or decided wrongly (that part's figures are not
 * written).
 * Acceptance criteria that are not met are reported, not failed on: this measures.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, loadavg, release, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { barChartSvg, type Bar } from './chart.js';
import { benchGetpid, SERIES, type GetpidResult, type RowId } from './getpid.js';
import { ROOT } from './lib/programs.js';
import { fmtMs, fmtRatio, fmtUs, table } from './lib/stats.js';
import { benchVm, formatVmBench } from './vm.js';
import { benchWorkloads, type WorkloadResult } from './workloads.js';

const PARTS = ['getpid', 'workloads', 'vm'] as const;
interface Args { quick: boolean; only?: (typeof PARTS)[number]; charts: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, charts: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--charts') a.charts = true;
    else if (x === '--only' && PARTS.includes(argv[i + 1] as Args['only'] & string)) a.only = argv[++i] as Args['only'];
    else throw new Error(`usage: npm run bench -- [--quick] [--only ${PARTS.join('|')}] [--charts] (unknown argument ${x})`);
  }
  return a;
}

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got ${v})`);
  return n;
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);

const machine = {
  date: new Date().toISOString(),
  cpu: cpus()[0]?.model ?? 'unknown',
  cpus: cpus().length,
  kernel: release(),
  node: process.version,
  /** 1-minute load average at the start and the end of the part: other work on the machine
   *  skews figures. */
  load: { start: loadavg()[0]!, end: NaN },
};

type Machine = typeof machine;

const loadText = (m: Machine): string => `load average ${m.load.start.toFixed(1)} to ${m.load.end.toFixed(1)}`;

const runsText = (runs: number): string => (runs === 1 ? 'one run' : `median of ${runs} interleaved runs`);

const SERIES_REF: Partial<Record<RowId, string>> = {
  b: `eBPF filter ${SERIES.ebpfBareMetalUs.toFixed(2)}`,
  c: `notification ${SERIES.notifBareMetalUs.toFixed(2)} / QEMU ${SERIES.notifQemuUs.toFixed(2)}`,
  'c-nosync': `notification ${SERIES.notifBareMetalUs.toFixed(2)} / QEMU ${SERIES.notifQemuUs.toFixed(2)}`,
  'd-sync': `notification ${SERIES.notifBareMetalUs.toFixed(2)} / QEMU ${SERIES.notifQemuUs.toFixed(2)}`,
  'd-nosync': `notification ${SERIES.notifBareMetalUs.toFixed(2)} / QEMU ${SERIES.notifQemuUs.toFixed(2)}`,
};

function printGetpid(g: GetpidResult): void {
  const rows = [['row', 'µs/call', 'min..max µs', 'cpu µs/call', 'runs', 'loop ms', 'notif/call', 'series µs/call']];
  for (const r of g.rows) {
    const mx = Math.max(...r.samples) / r.calls / 1000;
    rows.push([r.label, fmtUs(r.perCallUs), `${fmtUs(r.minPerCallUs)}..${fmtUs(mx)}`, r.cpuPerCallUs === undefined ? '' : fmtUs(r.cpuPerCallUs),
      String(r.samples.length), fmtMs(r.medianNs),
      r.notifiedPerCall === undefined ? '' : String(Math.round(r.notifiedPerCall * 1000) / 1000), SERIES_REF[r.id] ?? '']);
  }
  console.log(`\ngetpid x ${g.n.toLocaleString('en')}, first half allowed, second half EPERM; ${runsText(g.runs)} (rows under 0.5 s: 3 runs a round), loop time only`);
  console.log(table(rows));
  console.log('');
  const rr = [['ratio', 'medians', 'fastest', 'cpu', 'criterion (medians)']];
  for (const r of g.ratios) {
    rr.push([r.name, fmtRatio(r.value), fmtRatio(r.min), r.cpu === undefined ? '' : fmtRatio(r.cpu), r.criterion ? `${r.criterion}: ${r.ok ? 'met' : 'NOT MET'}` : '']);
  }
  rr.push(['series: notification / eBPF, bare metal', fmtRatio(SERIES.ratioBareMetal), '', '', '']);
  rr.push(['series: notification / eBPF, QEMU', fmtRatio(SERIES.ratioQemu), '', '', '']);
  console.log(table(rr));
  for (const n of g.notes) console.log(`note: ${n}`);
}

function getpidChart(g: GetpidResult, m: Machine): string {
  const order: RowId[] = ['a', 'e', 'b', 'f', 'c', 'c-nosync', 'd-sync', 'd-nosync'];
  const group: Record<RowId, string> = { a: 'none', e: 'kernel', b: 'kernel', f: 'ours', c: 'ours', 'c-nosync': 'ours', 'd-sync': 'c', 'd-nosync': 'c' };
  const bars: Bar[] = [];
  for (const id of order) {
    const r = g.rows.find((x) => x.id === id);
    if (r) bars.push({ label: r.label, value: r.perCallUs, group: group[id], text: `${fmtUs(r.perCallUs)} µs${r.cpuPerCallUs !== undefined ? ` (cpu ${fmtUs(r.cpuPerCallUs)})` : ''}` });
  }
  const gap = bars.length;
  bars.push({ label: 'series: eBPF filter (bare metal)', value: SERIES.ebpfBareMetalUs, group: 'series', text: `${fmtUs(SERIES.ebpfBareMetalUs)} µs` });
  bars.push({ label: 'series: user notification (bare metal)', value: SERIES.notifBareMetalUs, group: 'series', text: `${fmtUs(SERIES.notifBareMetalUs)} µs` });
  bars.push({ label: 'series: user notification (QEMU)', value: SERIES.notifQemuUs, group: 'series', text: `${fmtUs(SERIES.notifQemuUs)} µs` });
  const c = g.ratios.find((r) => r.name.startsWith('(c)/(d)') && r.name.endsWith(', sync'));
  const cn = g.ratios.find((r) => r.name.startsWith('(c)/(d)') && r.name.endsWith('no sync'));
  const f = g.ratios.find((r) => r.name.startsWith('(f)/(e)'));
  const fewer = g.rows.find((r) => r.calls !== g.n);
  return barChartSvg({
    title: `getpid x ${g.n.toLocaleString('en')}, half EPERM: cost per call`,
    subtitle: [
      `${runsText(g.runs)}, loop time only; ${m.cpus} x ${m.cpu}, Linux ${m.kernel}; ${m.date.slice(0, 10)}; ${loadText(m)}`,
      `(c)/(d) sync: ${c ? fmtRatio(c.value) : 'n/a'}${cn ? `, no sync: ${fmtRatio(cn.value)}` : ''} (limit 1.2x);  (f)/(e): ${f ? fmtRatio(f.value) : 'n/a'}${f?.cpu !== undefined ? ` (cpu ${fmtRatio(f.cpu)})` : ''} (limit 1.1x);  series published: i7-9700K, median of 10`,
      ...(fewer ? [`* ${fewer.calls.toLocaleString('en')} calls per run (half EPERM): without sync wake-up, pinned to two CPUs, a notification costs tens of µs here`] : []),
    ],
    axis: 'µs per getpid call (log scale)',
    scale: 'log',
    bars,
    gapsBefore: [gap],
    groups: [
      { id: 'none', label: 'no filter', color: '#9e9e9e' },
      { id: 'kernel', label: 'kernel classic BPF', color: '#26a69a' },
      { id: 'ours', label: 'our supervisor (CLI)', color: '#1e6fd9' },
      { id: 'c', label: 'C supervisor (series method)', color: '#7cb342' },
      { id: 'series', label: 'series, published', color: '#ef8f2f' },
    ],
  });
}

function printWorkloads(w: WorkloadResult): void {
  console.log(`\nreal workloads: wall time of the command (timed from inside, see docs/benchmarks.md); ${runsText(w.runs)}`);
  const rows = [['workload', 'filter', 'median ms', 'min..max ms', 'vs none', 'min vs min', 'cpu ms', 'cpu vs none', 'notified', 'total', 'in kernel', 'µs/notif']];
  for (const r of w.rows) {
    const info = w.workloads.find((x) => x.id === r.workload)!;
    if (r.skipped) {
      rows.push([info.label, r.label, 'n/a', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const s = r.samples!;
    rows.push([info.label, r.label, fmtMs(r.medianNs!), `${fmtMs(Math.min(...s))}..${fmtMs(Math.max(...s))}`, fmtRatio(r.ratio!), fmtRatio(r.ratioMin!),
      fmtMs(r.cpuMedianNs!), fmtRatio(r.cpuRatio!),
      r.notified === undefined ? '' : String(r.notified), r.notified === undefined ? '' : String(info.totalSyscalls),
      r.kernelFraction === undefined ? '' : `${(r.kernelFraction * 100).toFixed(1)}%`,
      r.usPerNotification === undefined ? '' : r.usPerNotification.toFixed(1)]);
  }
  console.log(table(rows));
  for (const k of w.kernelFilters) {
    console.log(`kernel filter under ${k.config}: ${k.split ? `the split's, ${k.instructions} classic-BPF instructions` : `notify everything (${k.instructions} instruction${k.instructions === 1 ? '' : 's'})`}${k.warnings.length ? `; warnings: ${k.warnings.join('; ')}` : ''}`);
  }
  for (const i of w.workloads) {
    console.log(`total syscalls, ${i.label}: ${i.totalSyscalls} (syscall-count)${i.straceSyscalls !== undefined ? `, ${i.straceSyscalls} (strace -f -c)` : ''}`);
  }
  for (const r of w.rows) {
    if (!r.notifiedTop || r.notified === undefined) continue;
    const info = w.workloads.find((x) => x.id === r.workload)!;
    const all = r.notified >= info.totalSyscalls * 0.99;
    console.log(`supervisor saw, ${info.label} under ${r.label}: ${all ? 'every syscall' : r.notifiedTop.map(([k, v]) => `${k} ${v}`).join(', ') || 'nothing'}`);
  }
  const skipped = w.rows.find((r) => r.skipped);
  if (skipped) console.log(`n/a: ${skipped.skipped}`);
  const crit = w.rows.filter((r) => (r.config === 'exec-once' || r.config === 'default') && r.ratio !== undefined);
  const worst = crit.reduce((m, r) => Math.max(m, r.ratio!), 0);
  const worstMin = crit.reduce((m, r) => Math.max(m, r.ratioMin!), 0);
  const worstCpu = crit.reduce((m, r) => Math.max(m, r.cpuRatio!), 0);
  console.log(`criterion: exec-once and default policy <= 1.3x no filter: worst ${fmtRatio(worst)} (medians), ${fmtRatio(worstMin)} (fastest runs), ` +
    `${fmtRatio(worstCpu)} (cpu): ${worst <= 1.3 ? 'met' : 'NOT MET'} on medians`);
  for (const n of w.notes) console.log(`note: ${n}`);
}

function workloadChart(w: WorkloadResult, m: Machine): string {
  const bars: Bar[] = [];
  const gaps: number[] = [];
  for (const info of w.workloads) {
    if (bars.length > 0) gaps.push(bars.length);
    for (const r of w.rows.filter((x) => x.workload === info.id)) {
      bars.push({
        label: `${info.id}: ${r.label}`, value: r.ratio ?? NaN, group: r.config,
        text: r.skipped ? 'n/a (policy denies the script\'s execs)'
          : `${fmtRatio(r.ratio!)}  (${fmtMs(r.medianNs!)} ms; min ${fmtRatio(r.ratioMin!)}; cpu ${fmtRatio(r.cpuRatio!)}${r.kernelFraction !== undefined ? `; ${(r.kernelFraction * 100).toFixed(1)}% in kernel` : ''})`,
      });
    }
  }
  return barChartSvg({
    title: 'Real workloads: wall time relative to no filter',
    subtitle: [
      `${runsText(w.runs)}, command timed from inside; ${m.cpus} x ${m.cpu}, Linux ${m.kernel}; ${m.date.slice(0, 10)}; ${loadText(m)}`,
      'bars: median / median with no filter; "min": fastest run / fastest with no filter; "cpu": median CPU time / same with no filter',
    ],
    axis: 'time / time with no filter',
    scale: 'linear',
    bars,
    gapsBefore: gaps,
    markers: [{ value: 1.3, label: '1.3x limit' }],
    valueWidth: 400,
    width: 1100,
    groups: [
      { id: 'none', label: 'no filter', color: '#9e9e9e' },
      { id: 'kernel', label: 'kernel cBPF', color: '#26a69a' },
      { id: 'exec-once', label: 'exec-once', color: '#1e6fd9' },
      { id: 'exec-once-notify-all', label: 'exec-once --notify-all', color: '#90a4d4' },
      { id: 'default', label: 'default policy', color: '#5c6bc0' },
      { id: 'syscall-count', label: 'syscall-count', color: '#ab47bc' },
    ],
  });
}

/**
 * Raises our scheduling priority (BENCH_NICE, default -10; children and the supervisor's
 * worker threads inherit it) so that other work on the machine disturbs the measurements less:
 * a CPU-bound command shares its CPU with other busy processes, while a supervised one, which
 * sleeps on every syscall, is favoured on wake-up, and that skews the comparison.
 * Returns the nice value in effect.
 */
function envNice(): number {
  const v = process.env.BENCH_NICE;
  const want = v === undefined || v === '' ? -10 : Number(v);
  if (!Number.isInteger(want) || want < -20 || want > 19) throw new Error(`BENCH_NICE must be an integer in -20..19 (got ${v})`);
  try {
    setPriority(0, want);
  } catch (e) {
    log(`warning: cannot set nice ${want} (${(e as Error).message}); measuring at nice ${getPriority(0)}`);
  }
  return getPriority(0);
}

/** --charts: redraws the SVGs from the JSON results, measuring nothing. */
function redrawCharts(out: string): void {
  const g = JSON.parse(readFileSync(join(out, 'getpid.json'), 'utf8')) as GetpidResult & { machine: Machine };
  writeFileSync(join(out, 'getpid.svg'), getpidChart(g, g.machine));
  const w = JSON.parse(readFileSync(join(out, 'workloads.json'), 'utf8')) as WorkloadResult & { machine: Machine };
  writeFileSync(join(out, 'workloads.svg'), workloadChart(w, w.machine));
  console.log(`redrew getpid.svg and workloads.svg in ${out} from the JSON results`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // A --quick run must not overwrite the figures docs/benchmarks.md quotes.
  const out = process.env.BENCH_OUT || (args.quick ? join(tmpdir(), 'seccomp-ebpf-bench-results') : join(ROOT, 'bench/results'));
  if (args.charts) {
    redrawCharts(out);
    return;
  }
  const n = envInt('BENCH_N', args.quick ? 100_000 : 1_000_000);
  const runs = envInt('BENCH_RUNS', args.quick ? 3 : 5);
  const wruns = envInt('BENCH_WORKLOAD_RUNS', args.quick ? 3 : 9);
  const nNoSync = envInt('BENCH_N_NOSYNC', Math.min(n, args.quick ? 20_000 : 100_000));
  const nice = envNice();
  mkdirSync(out, { recursive: true });
  console.log(`seccomp-ebpf benchmarks, ${machine.date}: ${machine.cpus} x ${machine.cpu}, Linux ${machine.kernel}, node ${machine.node}, nice ${nice}`);
  const started = Date.now();

  const loadStart = loadavg()[0]!;
  const part = (name: Args['only']): boolean => args.only === undefined || args.only === name;
  if (part('getpid')) {
    log(`getpid table: N = ${n}, ${runs} rounds`);
    machine.load.start = loadavg()[0]!;
    const g = await benchGetpid(n, nNoSync, runs, log);
    machine.load.end = loadavg()[0]!;
    printGetpid(g);
    writeFileSync(join(out, 'getpid.json'), `${JSON.stringify({ machine, series: SERIES, ...g }, null, 2)}\n`);
    writeFileSync(join(out, 'getpid.svg'), getpidChart(g, machine));
  }
  if (part('vm')) {
    const v = benchVm(args.quick ? 3 : 9, log);
    console.log(`\none filter run in the VM, without the kernel round trip (simulated task, own maps)\n${formatVmBench(v)}`);
    writeFileSync(join(out, 'vm.json'), `${JSON.stringify({ machine, ...v }, null, 2)}\n`);
  }
  if (part('workloads')) {
    log(`real workloads: ${wruns} rounds`);
    machine.load.start = loadavg()[0]!;
    const w = await benchWorkloads(wruns, log);
    machine.load.end = loadavg()[0]!;
    printWorkloads(w);
    writeFileSync(join(out, 'workloads.json'), `${JSON.stringify({ machine, ...w }, null, 2)}\n`);
    writeFileSync(join(out, 'workloads.svg'), workloadChart(w, machine));
  }
  console.log(`\nwritten to ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${loadStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});

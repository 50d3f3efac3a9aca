/**
 * Benchmarks, run with `npm run bench`. Every figure is printed next to a reference measured in the
 * same run (these machines are noisy; absolute times drift), as a ratio.
 *
 * getpid: the series' workload (spec.md section 5) scaled to N raw getpid calls, half of them
 * denied. (a) no filter; (c) our supervisor running examples/getpid-half.bpf.o with HALF = N/2.
 * In this issue the kernel stub sends every syscall to the supervisor, so (c) is one user
 * notification round trip per call. Only the loop is timed (inside the C program).
 */
import { spawnSync } from 'node:child_process';
import { compileC } from '../test/helpers/cprog.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const loop = compileC({ file: 'test/programs/getpid-loop.c' });

interface LoopResult { ns: number; ok: number; eperm: number }

function parse(stdout: string): LoopResult {
  const num = (k: string): number => Number(stdout.match(new RegExp(`\\b${k}=(\\d+)`))?.[1] ?? NaN);
  return { ns: num('ns'), ok: num('ok'), eperm: num('eperm') };
}

function runLoop(prefix: string[]): LoopResult {
  const argv = [...prefix, loop, String(N), '--time'];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return parse(r.stdout);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cli = [process.execPath, '--import', 'tsx', 'src/cli/bin.ts', 'run', '--filter', 'examples/getpid-half.bpf.o', '--global', `HALF=${N / 2}`, '--'];
const bare: number[] = [];
const supervised: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // Interleave the two so that drift hits both alike.
  bare.push(runLoop([]).ns);
  const s = runLoop(cli);
  if (s.ok !== N / 2 || s.eperm !== N / 2) throw new Error(`getpid-half decided wrongly: ok=${s.ok} eperm=${s.eperm}`);
  supervised.push(s.ns);
}
const a = median(bare) / N;
const c = median(supervised) / N;
console.log(`getpid x ${N}, half EPERM, median of ${RUNS} runs (loop time only)`);
console.log(`  (a) no filter                         ${(a / 1000).toFixed(3)} us/call   ${(median(bare) / 1e6).toFixed(1)} ms total`);
console.log(`  (c) supervisor running getpid-half    ${(c / 1000).toFixed(3)} us/call   ${(median(supervised) / 1e6).toFixed(1)} ms total`);
console.log(`  ratio (c)/(a)                         ${(c / a).toFixed(1)}x`);
console.log(`  series (bare metal): user notification 3.40 us/call, in-kernel eBPF 0.08 us/call (ratio 42.4)`);

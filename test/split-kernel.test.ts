// The split on the real kernel: programs behave exactly as when every syscall went to the
// supervisor, and the supervisor now sees only the syscalls that need state. What it sees is
// counted with the decision log (a callback, with `split: true`: then it records exactly the
// notified syscalls), against the same run with `split: false`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFilter, type DecisionRecord, type Filter, type LogRecord, type SpawnOptions } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { compileC } from './helpers/cprog.js';
import { supervisionUnsupported as unsupported } from './helpers/supervise.js';

const tmp = mkdtempSync(join(tmpdir(), 'seccomp-ebpf-split-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;

interface Outcome { out: string; code: number | null; signal: string | null; records: DecisionRecord[]; kernel: { split: boolean; instructions: number; warnings: string[] } }

async function run(filter: Filter, file: string, args: string[], opts: SpawnOptions = {}): Promise<Outcome> {
  const path = join(tmp, `out${seq++}`);
  const fd = openSync(path, 'w');
  const records: DecisionRecord[] = [];
  try {
    const child = filter.spawn(file, args, { stdio: ['ignore', fd, 'inherit'], log: (r: LogRecord) => { if ('nr' in r) records.push(r); }, ...opts });
    const st = await child.exited;
    return { out: readFileSync(path, 'utf8'), code: st.code, signal: st.signal, records, kernel: child.kernelFilter };
  } finally {
    closeSync(fd);
  }
}

const count = (records: DecisionRecord[], name: string): number => records.filter((r) => r.syscall === name).length;

test('exec-once under the split: rc=126 as before, and getpid never reaches the supervisor', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  let out = '';
  const status = await main(['run', '--filter', 'examples/exec-once.bpf.o', '--', '/bin/sh', '-c', '/bin/true; echo rc=$?'],
    { writeOut: () => {}, writeErr: (s) => (out += s), childStdio: ['ignore', openSync(join(tmp, 'sh'), 'w'), 'inherit'] });
  assert.equal(status, 0);
  assert.equal(readFileSync(join(tmp, 'sh'), 'utf8'), 'rc=126\n');
  assert.equal(out, '');

  const loop = compileC({ file: 'test/programs/getpid-loop.c' });
  const f = await loadFilter('examples/exec-once.bpf.o');
  const split = await run(f, loop, ['1000'], { split: true });
  assert.equal(split.out, 'ok=1000 eperm=0 other=0\n');
  assert.deepEqual(split.kernel, { split: true, instructions: 9, warnings: [] });
  assert.equal(count(split.records, 'getpid'), 0);
  // The only notification: the exec of the loop itself (exec-once's state).
  assert.deepEqual(split.records.map((r) => [r.syscall, r.action]), [['execve', 'allow']]);
  const all = await run(await loadFilter('examples/exec-once.bpf.o'), loop, ['1000'], { split: false });
  assert.equal(all.out, 'ok=1000 eperm=0 other=0\n');
  assert.equal(all.kernel.split, false);
  assert.equal(count(all.records, 'getpid'), 1000);
  assert.ok(all.records.length > 1000);
});

test('close-999 under the split: EBADF / EPERM as before, with no notification at all', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const f = await loadFilter('examples/close-999.bpf.o');
  const r = await run(f, compileC({ file: 'test/programs/close-test.c' }), [], { split: true });
  assert.equal(r.out, 'close111=9 close999=1\n');
  assert.equal(r.code, 0);
  assert.deepEqual(r.records, []);
});

// What the default policy refuses, and an x32 call.
const POLICY_VICTIM = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static int err(long r) { return r < 0 ? errno : 0; }
int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "x32")) {
    syscall(0x40000000 | 39);
    puts("survived");
    return 0;
  }
  int p = err(syscall(SYS_ptrace, 0, 0, 0, 0));
  int b = err(syscall(SYS_bpf, 0, 0, 0));
  int m = err(syscall(SYS_mount, "none", "/nonexistent", "tmpfs", 0, 0));
  int g = err(syscall(SYS_getppid));
  printf("ptrace=%d bpf=%d mount=%d getppid=%d\n", p, b, m, g);
  return 0;
}
`;

test('default policy under the split: EPERM list, second exec refused, x32 killed; only exec is notified', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const pv = compileC(POLICY_VICTIM);
  const f = await loadFilter('policies/default.bpf.o');
  const r = await run(f, pv, [], { split: true });
  assert.equal(r.out, 'ptrace=1 bpf=1 mount=1 getppid=0\n');
  assert.deepEqual(r.records.map((x) => x.syscall), ['execve']);
  const fe = await run(await loadFilter('policies/default.bpf.o'), compileC({ file: 'test/programs/fork-exec.c' }), ['/bin/true'], { split: true });
  assert.match(fe.out, /^child1_exec_errno=1 .*\nchild2_exec_errno=1 .*\nexec_ok=0\n$/);
  assert.deepEqual(fe.records.map((x) => [x.syscall, x.action]), [['execve', 'allow'], ['execve', 'errno'], ['execve', 'errno']]);
  // x32: killed by the kernel filter itself (SIGSYS), not by the supervisor.
  const x32 = await run(await loadFilter('policies/default.bpf.o'), pv, ['x32'], { split: true });
  assert.equal(x32.out, '');
  assert.equal(x32.signal, 'SIGSYS');
  assert.equal(x32.records.some((x) => x.nr === (0x40000000 | 39)), false);
});

test('stateful examples keep their exact counts under the split (getpid-half, fault-inject)', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const loop = compileC({ file: 'test/programs/getpid-loop.c' });
  const half = await loadFilter('examples/getpid-half.bpf.o', { globals: { HALF: 500n } });
  const h = await run(half, loop, ['1000'], { split: true });
  assert.equal(h.out, 'ok=500 eperm=500 other=0\n');
  assert.equal(count(h.records, 'getpid'), 1000);
  assert.equal(h.records.length, 1000); // nothing else reaches the supervisor
  const fi = await loadFilter('examples/fault-inject.bpf.o', { globals: { NR: 39, NTH: 3, ERR: 5 } });
  const r = await run(fi, loop, ['5', '--first-error'], { split: true });
  assert.equal(r.out, 'ok=4 eperm=0 other=1\nfirst_fail=3 errno=5\n');
  assert.equal(r.records.length, 5);
});

test('a decision log without `split: true` still records every syscall (the log implies notify-all)', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const f = await loadFilter('examples/close-999.bpf.o');
  const r = await run(f, compileC({ file: 'test/programs/close-test.c' }), []);
  assert.equal(r.out, 'close111=9 close999=1\n');
  assert.equal(r.kernel.split, false);
  const closes = r.records.filter((x) => x.syscall === 'close' && (x.args[0] === '0x6f' || x.args[0] === '0x3e7'));
  assert.deepEqual(closes.map((x) => [x.args[0], x.action]), [['0x6f', 'allow'], ['0x3e7', 'errno']]);
  assert.ok(r.records.length > 10, 'every syscall of the process is in the log');
});

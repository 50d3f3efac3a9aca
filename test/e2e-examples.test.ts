// The example filters (examples/*.bpf.o, policies/default.bpf.o) end to end through the CLI:
// clang-built objects, real victim programs (test/programs/*.c), the real kernel. Each case
// asserts what the program itself saw. Most run the CLI in-process (main(), child output to
// files: fast); the project's main job also runs as a real subprocess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { compileC } from './helpers/cprog.js';
import { supervisionUnsupported } from './helpers/supervise.js';

const unsupported = supervisionUnsupported;

const tmp = mkdtempSync(join(tmpdir(), 'seccomp-ebpf-e2e-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;

interface CliResult {
  status: number;
  /** What the CLI itself printed. */
  out: string;
  err: string;
  /** What the command printed. */
  childOut: string;
  childErr: string;
}

/** Runs the CLI in this process; the command's stdout/stderr go to files. */
async function cli(args: string[]): Promise<CliResult> {
  const o = join(tmp, `o${seq}`);
  const e = join(tmp, `e${seq++}`);
  const fo = openSync(o, 'w');
  const fe = openSync(e, 'w');
  let out = '';
  let err = '';
  try {
    const status = await main(args, { writeOut: (s) => (out += s), writeErr: (s) => (err += s), childStdio: ['ignore', fo, fe] });
    return { status, out, err, childOut: readFileSync(o, 'utf8'), childErr: readFileSync(e, 'utf8') };
  } finally {
    closeSync(fo);
    closeSync(fe);
  }
}

const victims = new Map<string, string>();
const victim = (name: string): string => {
  let p = victims.get(name);
  if (!p) victims.set(name, (p = compileC({ file: `test/programs/${name}.c` })));
  return p;
};

test('main job: exec-once under a real `seccomp-ebpf run` subprocess prints rc=126', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'run', '--filter', 'examples/exec-once.bpf.o', '--',
    '/bin/sh', '-c', '/bin/true; echo rc=$?'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.stdout, 'rc=126\n');
  assert.match(r.stderr, /\/bin\/true: .*(Operation not permitted|Permission denied)/);
  assert.equal(r.status, 0);
});

test('exec-once: the shell cannot exec; across a process tree no child can', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const sh = await cli(['run', '--filter', 'examples/exec-once.bpf.o', '--', 'sh', '-c', '/bin/true; echo rc=$?']);
  assert.equal(sh.childOut, 'rc=126\n');
  assert.equal(sh.status, 0);
  const fe = await cli(['run', '--filter', 'examples/exec-once.bpf.o', '--', victim('fork-exec'), '/bin/true']);
  assert.equal(fe.childOut,
    'child1_exec_errno=1 child1_exit=127 child1_signal=0\nchild2_exec_errno=1 child2_exit=127 child2_signal=0\nexec_ok=0\n');
  // Unfiltered, both execs succeed (the kernel, as the reference).
  const bare = spawnSync(victim('fork-exec'), ['/bin/true'], { encoding: 'utf8' });
  assert.equal(bare.stdout, 'child1_exec_errno=0 child1_exit=0 child1_signal=0\nchild2_exec_errno=0 child2_exit=0 child2_signal=0\nexec_ok=2\n');
});

test('getpid-half HALF=500: getpid-loop 1000 sees exactly ok=500 eperm=500', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF=500', '--', victim('getpid-loop'), '1000', '--first-error']);
  assert.equal(r.childOut, 'ok=500 eperm=500 other=0\nfirst_fail=501 errno=1\n');
  assert.equal(r.status, 0);
});

test('getpid-half across 8 threads: totals exact', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF=0x12c', '--', victim('threads'), '8', '125']);
  assert.equal(r.childOut, 'ok=300 eperm=700 other=0\n');
});

test('fault-inject NR=39 NTH=3 ERR=5: only the 3rd getpid fails, with EIO', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/fault-inject.bpf.o', '--global', 'NR=39', '--global', 'NTH=3', '--global', 'ERR=5',
    '--', victim('getpid-loop'), '6', '--trace']);
  assert.equal(r.childOut, 'ok=5 eperm=0 other=1\nerrs=0,0,5,0,0,0\n');
});

test('close-999: close(111) is EBADF (allowed through), close(999) EPERM', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/close-999.bpf.o', '--', victim('close-test')]);
  assert.equal(r.childOut, 'close111=9 close999=1\n');
  const bare = spawnSync(victim('close-test'), { encoding: 'utf8' });
  assert.equal(bare.stdout, 'close111=9 close999=9\n');
});

test('syscall-count --maps: the counts map holds exactly the calls syscalls.c made', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/syscall-count.bpf.o', '--maps', '--', victim('syscalls')]);
  assert.equal(r.childOut, 'getpid=7 getppid=3 getuid=2\n');
  assert.equal(r.status, 0);
  const dump = JSON.parse(r.err) as { counts: Array<{ key: number; value: number }> };
  const count = (nr: number): number | undefined => dump.counts.find((e) => e.key === nr)?.value;
  assert.equal(count(39), 7);
  assert.equal(count(110), 3);
  assert.equal(count(102), 2);
  assert.equal(count(59), 1); // its execve
  assert.equal(count(231), 1); // exit_group
});

test('syscall-count with 4 threads: counts[getpid] is exact', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = await cli(['run', '--filter', 'examples/syscall-count.bpf.o', '--maps', '--', victim('threads'), '4', '250']);
  assert.equal(r.childOut, 'ok=1000 eperm=0 other=0\n');
  const dump = JSON.parse(r.err) as { counts: Array<{ key: number; value: number }> };
  assert.equal(dump.counts.find((e) => e.key === 39)?.value, 1000);
  assert.equal(dump.counts.find((e) => e.key === 56)?.value ?? dump.counts.find((e) => e.key === 435)?.value, 4); // clone or clone3
});

test('phase: everything passes until TRIGGER, then only the marked syscalls', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  // After the first getpid (the trigger) printf needs newfstatat/fstat, brk/mmap, write, exit_group.
  const needed = [1, 5, 9, 12, 231, 262].flatMap((nr) => ['--map', `allowed:${nr}=1`]);
  const strict = await cli(['run', '--filter', 'examples/phase.bpf.o', '--global', 'TRIGGER=39', ...needed, '--', victim('getpid-loop'), '5', '--first-error']);
  assert.equal(strict.childOut, 'ok=1 eperm=4 other=0\nfirst_fail=2 errno=1\n');
  const marked = await cli(['run', '--filter', 'examples/phase.bpf.o', '--global', 'TRIGGER=39', ...needed, '--map', 'allowed:39=1', '--maps',
    '--', victim('getpid-loop'), '5', '--first-error']);
  assert.equal(marked.childOut, 'ok=5 eperm=0 other=0\nfirst_fail=0 errno=0\n');
  const dump = JSON.parse(marked.err) as { '.bss': { triggered: number }; allowed: Array<{ key: number; value: number }> };
  assert.equal(dump['.bss'].triggered, 1);
  assert.deepEqual(dump.allowed.map((e) => e.key), [1, 5, 9, 12, 39, 231, 262]);
});

// A victim for the default policy: syscalls it must refuse, and an x32 call.
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
  int p = err(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
  int b = err(syscall(SYS_bpf, 0, 0, 0));
  int m = err(syscall(SYS_mount, "none", "/nonexistent", "tmpfs", 0, 0));
  int g = err(syscall(SYS_getppid));
  printf("ptrace=%d bpf=%d mount=%d getppid=%d\n", p, b, m, g);
  return 0;
}
`;

test('default policy: ptrace/bpf/mount get EPERM, a second exec fails, x32 is killed', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const pv = compileC(POLICY_VICTIM);
  const r = await cli(['run', '--', pv]); // no --filter: policies/default.bpf.o
  assert.equal(r.childOut, 'ptrace=1 bpf=1 mount=1 getppid=0\n');
  const fe = await cli(['run', '--', victim('fork-exec'), '/bin/true']);
  assert.match(fe.childOut, /^child1_exec_errno=1 .*\nchild2_exec_errno=1 .*\nexec_ok=0\n$/);
  const x32 = await cli(['run', '--', pv, 'x32']);
  assert.equal(x32.childOut, '');
  assert.equal(x32.status, 128 + 31);
});

test('default policy: a real program that execs once still works (python3 / sh builtins)', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const sh = await cli(['run', '--', '/bin/sh', '-c', 'read x < /etc/passwd; echo "got ${#x}" | { read y; echo "$y"; }']);
  assert.match(sh.childOut, /^got \d+\n$/);
  assert.equal(sh.status, 0);
  if (!existsSync('/usr/bin/python3')) return t.skip('no /usr/bin/python3');
  const py = await cli(['run', '--', '/usr/bin/python3', '-c', 'import os; print(sum(range(10)), os.getpid() > 0)']);
  assert.equal(py.childOut, '45 True\n');
  assert.equal(py.status, 0);
});

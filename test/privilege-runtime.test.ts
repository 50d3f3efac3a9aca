// Run-time helper behaviours of the privilege model (spec.md 8, 57-66) against real processes: a
// small C program sets itself up (non-dumpable, other ids, a second thread, a forked child, a
// child pid namespace), prints what the kernel tells it (getpid, gettid, PR_GET_DUMPABLE,
// getuid...) and the address of a string, then blocks; the test loads a program with
// loadProgram, runs it in the interpreter with helpersFor() and the real TaskContext
// (procTask, plus withDumpable from src/sys/dumpable.ts) and compares with what the C side saw.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_TASK_STORAGE } from '../src/abi/bpf.js';
import { hasCode } from '../src/errors.js';
import { assemble } from '../src/ebpf/asm.js';
import { createMap, type LiveMap } from '../src/ebpf/maps/index.js';
import { EFAULT, ENOENT, EPERM } from '../src/ebpf/maps/errno.js';
import { helpersFor, loadProgram, type PidNsTask } from '../src/ebpf/verifier/load.js';
import type { LoaderCredentials, VerifiedProgram } from '../src/ebpf/verifier/types.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { simulatedHost } from '../src/ebpf/vm/simulated.js';
import type { TaskContext } from '../src/ebpf/vm/types.js';
import { addonAvailable } from '../src/native/addon.js';
import { procDumpable, withDumpable } from '../src/sys/dumpable.js';
import { procTask } from '../src/sys/task.js';
import { compileC, gccAvailable } from './helpers/cprog.js';

const TARGET_C = String.raw`
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char secret[64] = "abc";
static volatile int tid2;

static void block(void) { char c; while (read(0, &c, 1) > 0) {} }
static void *thread_main(void *arg) { (void)arg; tid2 = (int)syscall(SYS_gettid); for (;;) pause(); return NULL; }
static int has(const char *modes, const char *m) {
  size_t n = strlen(m);
  for (const char *p = modes; (p = strstr(p, m)) != NULL; p += n)
    if ((p == modes || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

int main(int argc, char **argv) {
  const char *modes = argc > 1 ? argv[1] : "";
  int child = 0, inner = 0, fds[2];
  if (has(modes, "ids") && (setgid(1001) != 0 || setuid(1000) != 0)) { perror("setid"); return 2; }
  if (has(modes, "nodump")) prctl(PR_SET_DUMPABLE, 0);
  if (has(modes, "pidns") && unshare(CLONE_NEWPID) != 0) { perror("unshare"); return 2; }
  if (has(modes, "fork") || has(modes, "pidns")) {
    if (pipe(fds) != 0) return 2;
    child = fork();
    if (child < 0) return 2;
    if (child == 0) {
      int me = getpid();
      if (write(fds[1], &me, sizeof me) != sizeof me) _exit(2);
      block();
      _exit(0);
    }
    if (read(fds[0], &inner, sizeof inner) != sizeof inner) return 2;
  }
  if (has(modes, "thread")) {
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    while (tid2 == 0) usleep(1000);
  }
  void *noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("pid=%d tid=%d tid2=%d child=%d inner=%d addr=%p noaccess=%p dumpable=%d uid=%u gid=%u\n",
         getpid(), (int)syscall(SYS_gettid), tid2, child, inner, (void *)secret, noaccess,
         prctl(PR_GET_DUMPABLE), getuid(), getgid());
  fflush(stdout);
  block();
  if (child > 0) waitpid(child, NULL, 0);
  return 0;
}
`;

interface Target {
  pid: number;
  tid2: number;
  child: number;
  inner: number;
  addr: bigint;
  noaccess: bigint;
  dumpable: number;
  uid: number;
  gid: number;
}

const isRoot = process.getuid?.() === 0;
const running: ChildProcess[] = [];
after(() => {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
});

function unavailable(needRoot: boolean): string | undefined {
  if (!gccAvailable()) return 'gcc is not available to build the target program';
  if (!addonAvailable()) return 'the native addon is not built (procTask reads memory with process_vm_readv)';
  if (needRoot && !isRoot) return 'needs root (targets with other uids, setuid, CLONE_NEWPID)';
  return undefined;
}

/** Starts the target with `modes` (comma-separated), optionally as uid/gid; resolves when it has
 *  printed its line. The process exits when stdin is closed (see stop). */
async function start(modes: string, ids: { uid?: number; gid?: number } = {}): Promise<Target & { proc: ChildProcess }> {
  const exe = compileC(TARGET_C);
  const proc = spawn(exe, [modes], { stdio: ['pipe', 'pipe', 'inherit'], ...ids });
  running.push(proc);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`target (${modes}) exited with ${code} before printing`)));
    proc.once('error', reject);
  });
  const f = Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
  const num = (k: string): number => Number(f[k]);
  return {
    proc, pid: num('pid'), tid2: num('tid2'), child: num('child'), inner: num('inner'), addr: BigInt(f.addr!),
    noaccess: BigInt(f.noaccess!), dumpable: num('dumpable'), uid: num('uid'), gid: num('gid'),
  };
}

async function stop(t: { proc: ChildProcess }): Promise<void> {
  if (t.proc.exitCode !== null) return;
  const done = new Promise((r) => t.proc.once('exit', r));
  t.proc.stdin!.end();
  await done;
}

// A simulated loader: the system's unprivileged_bpf_disabled would refuse unprivileged loads
// (behaviour 18); these tests are about what a loaded program does at run time.
function loader(caps: string[]): LoaderCredentials {
  return {
    caps: new Set(caps), initNsSysPtrace: caps.includes('CAP_SYS_PTRACE'), initUserNs: true,
    userNs: 'user:[4026531837]', pidNs: 'pid:[4026531836]', noNewPrivs: true, unprivilegedBpfDisabled: 0,
  };
}
const UNPRIV = loader([]);
const PTRACER = loader(['CAP_SYS_PTRACE']);

const VALUE_SIZE = 256;
const arrayMap = (): LiveMap => createMap({ name: 'buf', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, flags: 0 }, { possibleCpus: 2 });
const storageMap = (): LiveMap =>
  createMap({ name: 'ts', type: BPF_MAP_TYPE_TASK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: BPF_F_NO_PREALLOC }, { possibleCpus: 2 });
const KEY0 = new Uint8Array(4);
const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));

function run(prog: VerifiedProgram, maps: LiveMap[], task: TaskContext): bigint {
  const vm = createVm(prog.insns, { maps, helpers: helpersFor(prog), host: simulatedHost() });
  return vm.run(new Uint8Array(64), task);
}

/** Reads `size` bytes at `addr` of the filtered task into the map value with helper `id`. */
function readProgram(id: 112 | 114, size: number, addr: bigint, c: LoaderCredentials, map: LiveMap): VerifiedProgram {
  return loadProgram(assemble(`
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    r1 = map[0] ll
    call 1
    if r0 == 0 goto out
    r1 = r0
    r2 = ${size}
    r3 = 0x${addr.toString(16)} ll
    call ${id}
    exit
  out:
    r0 = 7
    exit`), { maps: [map.spec], license: 'GPL', cred: c });
}

/** Runs the read with the map value pre-filled with 0xff; returns r0 and the value. */
function readWith(id: 112 | 114, size: number, addr: bigint, c: LoaderCredentials, task: TaskContext): { r0: bigint; value: Uint8Array } {
  const map = arrayMap();
  assert.equal(map.update(KEY0, new Uint8Array(VALUE_SIZE).fill(0xff), 0), 0);
  const prog = readProgram(id, size, addr, c, map);
  const r0 = run(prog, [map], task);
  return { r0, value: map.lookup(KEY0)!.slice() };
}

const ABC = [0x61, 0x62, 0x63, 0];

describe('probe_read_user at run time (spec.md 8, 57-61)', () => {
  test('dumpability as procfs shows it agrees with PR_GET_DUMPABLE in the target', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const cases: Array<[string, { uid?: number; gid?: number }, number | undefined]> = [
      ['', { uid: 1000, gid: 1000 }, 1],
      ['nodump', { uid: 1000, gid: 1000 }, 0],
      ['', { uid: 0, gid: 1000 }, 1],
      ['nodump', { uid: 0, gid: 1000 }, 0],
      ['ids', {}, 0], // setuid from root: the kernel clears dumpable on the credential change
      // Root with root's group: procfs shows root ownership either way; not decidable here.
      ['', { uid: 0, gid: 0 }, undefined],
      ['nodump', { uid: 0, gid: 0 }, undefined],
    ];
    for (const [modes, ids, expected] of cases) {
      const tg = await start(modes, ids);
      try {
        const got = procDumpable(tg.pid);
        assert.equal(got, expected, `${modes || 'plain'} ${JSON.stringify(ids)}: PR_GET_DUMPABLE=${tg.dumpable}`);
        if (got !== undefined) assert.equal(got, tg.dumpable, 'the kernel agrees');
        assert.equal(withDumpable(procTask(tg.pid)).dumpable(), got ?? 0, 'undecidable counts as not dumpable');
        assert.equal(procDumpable(tg.pid, { rootProbe: () => 42 }), got ?? 42);
      } finally {
        await stop(tg);
      }
    }
    assert.throws(() => procDumpable(0x3fffffff), (e: unknown) => hasCode(e, 'ERR_TASK_GONE'));
  });

  test('57: loaded without CAP_SYS_PTRACE, target not dumpable → -EPERM and a zeroed buffer', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const tg = await start('nodump', { uid: 1000, gid: 1000 });
    try {
      assert.equal(tg.dumpable, 0);
      for (const id of [112, 114] as const) {
        const { r0, value } = readWith(id, 16, tg.addr, UNPRIV, withDumpable(procTask(tg.pid)));
        assert.equal(r0, neg(EPERM), `helper ${id}`);
        assert.deepEqual([...value.subarray(0, 16)], new Array(16).fill(0));
        assert.equal(value[16], 0xff, 'only the destination buffer is touched');
      }
    } finally {
      await stop(tg);
    }
  });

  test('58: same loader, target dumpable → 0 and the bytes', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const tg = await start('', { uid: 1000, gid: 1000 });
    try {
      assert.equal(tg.dumpable, 1);
      const { r0, value } = readWith(112, 16, tg.addr, UNPRIV, withDumpable(procTask(tg.pid)));
      assert.equal(r0, 0n);
      assert.deepEqual([...value.subarray(0, 16)], [...ABC, ...new Array(12).fill(0)]);
    } finally {
      await stop(tg);
    }
  });

  test('59: loader with CAP_SYS_PTRACE → the read succeeds even when the target is not dumpable', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const tg = await start('nodump', { uid: 1000, gid: 1000 });
    try {
      const task = withDumpable(procTask(tg.pid));
      assert.equal(task.dumpable(), 0);
      const { r0, value } = readWith(112, 16, tg.addr, PTRACER, task);
      assert.equal(r0, 0n);
      assert.deepEqual([...value.subarray(0, 4)], ABC);
      const s = readWith(114, VALUE_SIZE, tg.addr, PTRACER, task);
      assert.equal(s.r0, 4n);
    } finally {
      await stop(tg);
    }
  });

  test('60: invalid or inaccessible user address → -EFAULT and a zeroed buffer', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    // A non-root target, so that its dumpability is decidable (the dumpable variant asks first).
    const tg = await start('', isRoot ? { uid: 1000, gid: 1000 } : {});
    try {
      for (const c of [UNPRIV, PTRACER]) {
        for (const addr of [0x10n, tg.noaccess, 0xffff_8000_0000_0000n]) {
          for (const id of [112, 114] as const) {
            const task = withDumpable(procTask(tg.pid));
            const { r0, value } = readWith(id, 32, addr, c, task);
            assert.equal(r0, neg(EFAULT), `helper ${id} at 0x${addr.toString(16)}`);
            assert.deepEqual([...value.subarray(0, 32)], new Array(32).fill(0));
            assert.equal(value[32], 0xff);
          }
        }
      }
    } finally {
      await stop(tg);
    }
  });

  test('61: probe_read_user_str on "abc" with size 256 → 4', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    const tg = await start('');
    try {
      // Stock variant (this test's loader has CAP_SYS_PTRACE): no dumpability question.
      const { r0, value } = readWith(114, 256, tg.addr, PTRACER, procTask(tg.pid));
      assert.equal(r0, 4n);
      assert.deepEqual([...value.subarray(0, 4)], ABC);
      assert.equal(value[4], 0xff, 'bytes after the NUL are left alone');
    } finally {
      await stop(tg);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const storageGet = (flags: number): string => `
  r1 = map[0] ll
  r2 = 0
  r3 = 0
  r4 = ${flags}
  call 156
  if r0 == 0 goto null
  r1 = *(u64 *)(r0 + 0)
  r1 += 1
  *(u64 *)(r0 + 0) = r1
  r0 = r1
  exit
null:
  r0 = 0
  exit`;
const STORAGE_DELETE = 'r1 = map[0] ll\nr2 = 0\ncall 157\nexit';

describe('task storage at run time (spec.md 8, 62-64)', () => {
  const load = (text: string, map: LiveMap): VerifiedProgram => loadProgram(assemble(text), { maps: [map.spec], license: 'GPL', cred: UNPRIV });

  test('62: two threads of one process share the storage; a forked child gets fresh storage', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    const tg = await start('thread,fork');
    try {
      assert.ok(tg.tid2 > 0 && tg.tid2 !== tg.pid && tg.child > 0);
      const map = storageMap();
      const get = load(storageGet(1), map);
      assert.equal(run(get, [map], procTask(tg.pid)), 1n);
      assert.equal(run(get, [map], procTask(tg.tid2)), 2n, 'the second thread sees the same counter');
      assert.equal(run(get, [map], procTask(tg.child)), 1n, 'the child starts afresh');
      assert.equal(run(get, [map], procTask(tg.pid)), 3n);
      assert.equal(run(get, [map], procTask(tg.child)), 2n);
    } finally {
      await stop(tg);
    }
  });

  test('63: flags = 2 → NULL (and nothing is created)', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    const tg = await start('');
    try {
      const map = storageMap();
      const task = procTask(tg.pid);
      assert.equal(run(load(storageGet(2), map), [map], task), 0n);
      assert.equal(run(load(storageGet(3), map), [map], task), 0n);
      assert.equal(run(load(storageGet(0), map), [map], task), 0n, 'no storage was created');
      assert.equal(run(load(storageGet(1), map), [map], task), 1n);
    } finally {
      await stop(tg);
    }
  });

  test('64: task_storage_delete without storage → -ENOENT', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    const tg = await start('');
    try {
      const map = storageMap();
      const task = procTask(tg.pid);
      const del = load(STORAGE_DELETE, map);
      assert.equal(run(del, [map], task), neg(ENOENT));
      assert.equal(run(load(storageGet(1), map), [map], task), 1n);
      assert.equal(run(del, [map], task), 0n);
      assert.equal(run(del, [map], task), neg(ENOENT));
    } finally {
      await stop(tg);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const PID_TGID = 'call 14\nexit';
const UID_GID = 'call 15\nexit';

describe('identity helpers at run time (spec.md 8, 65-66)', () => {
  const load = (text: string): VerifiedProgram => loadProgram(assemble(text), { maps: [], license: 'GPL', cred: UNPRIV });

  test('65 (RFC): get_current_pid_tgid returns (tgid << 32) | pid, global ids', async (t) => {
    const why = unavailable(false);
    if (why) return t.skip(why);
    const tg = await start('thread');
    try {
      const prog = load(PID_TGID);
      assert.equal(run(prog, [], procTask(tg.pid)), (BigInt(tg.pid) << 32n) | BigInt(tg.pid));
      assert.equal(run(prog, [], procTask(tg.tid2)), (BigInt(tg.pid) << 32n) | BigInt(tg.tid2));
    } finally {
      await stop(tg);
    }
  });

  test('65 (RFC): a task that is pid 1 of a child pid namespace still gets its global ids', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const tg = await start('pidns');
    try {
      assert.equal(tg.inner, 1, 'the child is pid 1 in its namespace');
      assert.ok(tg.child > 1);
      const got = run(load(PID_TGID), [], procTask(tg.child));
      assert.equal(got, (BigInt(tg.child) << 32n) | BigInt(tg.child));
      assert.notEqual(got, (1n << 32n) | 1n);
    } finally {
      await stop(tg);
    }
  });

  test('65 (REPO): with the program loaded inside the child pid namespace → (1 << 32) | 1', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const probe = procTask(process.pid) as Partial<PidNsTask>;
    if (typeof probe.idsInPidNs !== 'function') {
      return t.skip('procTask does not implement PidNsTask.idsInPidNs yet: the TaskContext only gives ids in the supervisor\'s pid namespace');
    }
    const tg = await start('pidns');
    try {
      const childNs = readlinkSync(`/proc/${tg.child}/ns/pid`);
      const prog = loadProgram(assemble(PID_TGID), { maps: [], license: 'GPL', cred: { ...UNPRIV, pidNs: childNs } });
      assert.equal(run(prog, [], procTask(tg.child)), (1n << 32n) | 1n);
      assert.equal(run(prog, [], procTask(tg.pid)), 0n, 'the parent is not visible in the child namespace');
    } finally {
      await stop(tg);
    }
  });

  test('66: get_current_uid_gid of a process that setgid(1001)/setuid(1000)\'d → (1001 << 32) | 1000', async (t) => {
    const why = unavailable(true);
    if (why) return t.skip(why);
    const tg = await start('ids');
    try {
      assert.equal(tg.uid, 1000);
      assert.equal(tg.gid, 1001);
      assert.equal(run(load(UID_GID), [], procTask(tg.pid)), (1001n << 32n) | 1000n);
    } finally {
      await stop(tg);
    }
  });
});

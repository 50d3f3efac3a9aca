// The native addon and its wrappers against the real kernel: spawning under a hand-written
// classic-BPF filter, answering notifications, the listener handover before execve,
// PDEATHSIG, process memory, pidfds, eventfds and bpf(2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as spawnNode } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SECCOMP_NOTIF_RESP_SIZE, SECCOMP_NOTIF_SIZE, SECCOMP_DATA_SIZE, SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF, SECCOMP_USER_NOTIF_FLAG_CONTINUE, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP } from '../src/abi/seccomp.js';
import { hasCode } from '../src/errors.js';
import { addonAvailable, addonCandidates, loadAddon, WAITER } from '../src/native/addon.js';
import * as sys from '../src/native/syscalls.js';
import { SyscallError } from '../src/native/syscalls.js';
import { systemHost, parseCpuList } from '../src/sys/host.js';
import { procTask, statFields } from '../src/sys/task.js';
import { compileC, gccAvailable } from './helpers/cprog.js';

const VICTIM = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static char secret[] = "the quick brown fox";

static void *thread_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "victim-thr");
  long tid = syscall(SYS_gettid);
  long r = syscall(SYS_getpid, (long)secret, tid);
  printf("thread ret=%ld tid=%ld\n", r, tid);
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "getpid";
  if (!strcmp(mode, "getpid")) {
    long r = syscall(SYS_getpid, (long)secret, 0L);
    printf("ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  } else if (!strcmp(mode, "exit-msg")) {
    printf("hello from %ld\n", syscall(SYS_gettid)); /* not getpid: that one is notified */
  } else if (!strcmp(mode, "exit")) {
    return atoi(argv[2]);
  } else if (!strcmp(mode, "sleep")) {
    for (;;) pause();
  } else if (!strcmp(mode, "fork-sleep")) {
    pid_t c = fork(); /* the grandchild keeps the filter after we exit */
    if (c == 0) for (;;) pause();
    printf("grandchild=%d\n", (int)c);
  } else if (!strcmp(mode, "thread")) {
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
  }
  fflush(stdout);
  return 0;
}
`;

const NR_GETPID = 39;
const NR_EXECVE = 59;
const NR_EXIT_GROUP = 231;
const ERRNO_EPERM = 1;
const ENOSYS = 38;

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (!addonAvailable()) return `native addon not built (${addonCandidates()[0]})`;
  if (!gccAvailable()) return 'gcc not available';
  const sizes = loadAddon().seccompNotifSizes();
  if (typeof sizes === 'number') return `seccomp user notification unavailable (${sys.errnoName(sizes)})`;
  return undefined;
}
const SKIP = skipReason();
const NOT_ROOT = process.getuid?.() !== 0 ? 'bpf(2) needs root (CAP_BPF)' : undefined;

// ---- classic BPF by hand -------------------------------------------------------------------

function cbpf(insns: [code: number, jt: number, jf: number, k: number][]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const dv = new DataView(out.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    dv.setUint8(i * 8 + 2, jt);
    dv.setUint8(i * 8 + 3, jf);
    dv.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return out;
}
const LD_NR: [number, number, number, number] = [0x20, 0, 0, 0]; // ld [0]
const RET = (k: number): [number, number, number, number] => [0x06, 0, 0, k];
/** ld [0]; jeq #nr, notify, allow */
const notifyNr = (nr: number): Uint8Array => cbpf([LD_NR, [0x15, 0, 1, nr], RET(SECCOMP_RET_USER_NOTIF), RET(SECCOMP_RET_ALLOW)]);
const notifyAll = (): Uint8Array => cbpf([RET(SECCOMP_RET_USER_NOTIF)]);

// ---- helpers -------------------------------------------------------------------------------

interface Notif {
  id: bigint;
  pid: number;
  nr: number;
  args: bigint[];
}

function parseNotif(buf: Uint8Array): Notif {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const args = [0, 1, 2, 3, 4, 5].map((i) => dv.getBigUint64(32 + 8 * i, true));
  return { id: dv.getBigUint64(0, true), pid: dv.getUint32(8, true), nr: dv.getInt32(16, true), args };
}

function recv(fd: number, timeoutMs = 5000): Notif {
  const rev = sys.pollOne(fd, sys.POLLIN, timeoutMs);
  assert.ok(rev & sys.POLLIN, `no notification within ${timeoutMs} ms (revents ${rev})`);
  const buf = new Uint8Array(SECCOMP_NOTIF_SIZE);
  assert.equal(sys.notifReceive(fd, buf), true);
  return parseNotif(buf);
}

const cont = (fd: number, n: Notif): boolean => sys.notifRespond(fd, n.id, 0n, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);

function waitExit(pidfd: number, timeoutMs = 5000): sys.WaitResult {
  assert.ok(sys.pollOne(pidfd, sys.POLLIN, timeoutMs) & sys.POLLIN, `child did not exit within ${timeoutMs} ms`);
  const r = sys.waitPidfd(pidfd, sys.WEXITED);
  assert.ok(r);
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'seccomp-ebpf-native-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let victimPath: string | undefined;
const victim = (): string => (victimPath ??= compileC(VICTIM));

interface Run extends sys.SpawnedProcess {
  out: string;
  output(): string;
  cleanup(): void;
}

let runs = 0;
function run(filter: Uint8Array, args: string[], opts: { flags?: number } = {}): Run {
  const out = join(dir, `out-${runs++}.txt`);
  const fd = openSync(out, 'w');
  try {
    const p = sys.spawnFiltered({ file: victim(), argv: [victim(), ...args], env: [], filter, stdio: [-1, fd, fd], flags: opts.flags });
    let closed = false;
    return {
      ...p,
      out,
      output: () => readFileSync(out, 'utf8'),
      cleanup() {
        if (closed) return;
        closed = true;
        loadAddon().pidfdSendSignal(p.pidfd, 9);
        loadAddon().waitPidfd(p.pidfd, sys.WEXITED);
        loadAddon().close(p.pidfd);
        loadAddon().close(p.listenerFd);
      },
    };
  } finally {
    closeSync(fd);
  }
}

// ---- spawn and notifications ---------------------------------------------------------------

test('CONTINUE lets the notified syscall run; the answer carries the target pid and args', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  try {
    const n = recv(r.listenerFd);
    assert.equal(n.nr, NR_GETPID);
    assert.equal(n.pid, r.pid);
    assert.equal(sys.notifIdValid(r.listenerFd, n.id), true);
    // args[0] points at a string in the child: read it back.
    const buf = new Uint8Array(19);
    assert.equal(sys.readProcessMemory(r.pid, n.args[0]!, buf), 19);
    assert.equal(new TextDecoder().decode(buf), 'the quick brown fox');
    assert.equal(cont(r.listenerFd, n), true);
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_EXITED, status: 0 });
    assert.equal(r.output(), `ret=${r.pid} errno=0\n`);
  } finally {
    r.cleanup();
  }
});

test('an error answer is the errno the program sees; a value answer is its return value', { skip: SKIP }, () => {
  const a = run(notifyNr(NR_GETPID), ['getpid']);
  const b = run(notifyNr(NR_GETPID), ['getpid']);
  try {
    assert.equal(sys.notifRespond(a.listenerFd, recv(a.listenerFd).id, 0n, -ERRNO_EPERM, 0), true);
    assert.equal(sys.notifRespond(b.listenerFd, recv(b.listenerFd).id, 1234n, 0, 0), true);
    waitExit(a.pidfd);
    waitExit(b.pidfd);
    assert.equal(a.output(), `ret=-1 errno=${ERRNO_EPERM}\n`);
    assert.equal(b.output(), 'ret=1234 errno=0\n');
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test('the listener reaches the parent before execve: the first notification is the execve itself', { skip: SKIP }, () => {
  // Every syscall is notified, so any syscall the child made after installing the filter
  // (a write, a futex, a sendmsg) would show up before the execve, or deadlock.
  const r = run(notifyAll(), ['exit', '3']);
  try {
    const first = recv(r.listenerFd);
    assert.equal(first.nr, NR_EXECVE);
    assert.equal(first.pid, r.pid);
    const path = new Uint8Array(victim().length + 1);
    assert.equal(sys.readProcessMemory(r.pid, first.args[0]!, path), path.length);
    assert.equal(new TextDecoder().decode(path), `${victim()}\0`);
    cont(r.listenerFd, first);
    // Continue everything the dynamic loader and libc do until the exit.
    const seen: number[] = [];
    const fds = Int32Array.of(r.listenerFd, r.pidfd);
    const events = Int16Array.of(sys.POLLIN, sys.POLLIN);
    const revents = new Int16Array(2);
    for (let i = 0; i < 1000; i++) {
      assert.ok(sys.poll(fds, events, revents, 5000) > 0, 'stuck');
      if (revents[0]! & sys.POLLIN) {
        const buf = new Uint8Array(SECCOMP_NOTIF_SIZE);
        if (!sys.notifReceive(r.listenerFd, buf)) continue;
        const n = parseNotif(buf);
        seen.push(n.nr);
        cont(r.listenerFd, n);
      } else if (revents[1]! & sys.POLLIN) break;
    }
    assert.equal(seen.at(-1), NR_EXIT_GROUP);
    assert.ok(!seen.includes(NR_EXECVE), 'a second execve');
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_EXITED, status: 3 });
  } finally {
    r.cleanup();
  }
});

test('closing the listener fails notified syscalls with ENOSYS (fail closed)', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  try {
    sys.close(r.listenerFd);
    assert.equal(waitExit(r.pidfd).status, 0);
    assert.equal(r.output(), `ret=-1 errno=${ENOSYS}\n`);
  } finally {
    loadAddon().close(r.pidfd);
  }
});

test('a notification of a killed target is no longer valid (ENOENT)', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  try {
    const n = recv(r.listenerFd);
    assert.equal(sys.notifIdValid(r.listenerFd, n.id), true);
    sys.pidfdSendSignal(r.pidfd, 9);
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_KILLED, status: 9 });
    assert.equal(loadAddon().notifIdValid(r.listenerFd, n.id), -sys.errnoNumber('ENOENT'));
    assert.equal(sys.notifIdValid(r.listenerFd, n.id), false);
    assert.equal(sys.notifRespond(r.listenerFd, n.id, 0n, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE), false);
  } finally {
    r.cleanup();
  }
});

test('SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP can be set (or the fallback is reported)', { skip: SKIP }, (t) => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  try {
    const raw = loadAddon().notifSetFlags(r.listenerFd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    const ok = sys.notifSetFlags(r.listenerFd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    assert.equal(ok, raw === 0);
    if (ok) {
      // An unknown flag is refused, so the ioctl really is SET_FLAGS.
      assert.equal(loadAddon().notifSetFlags(r.listenerFd, 2), -sys.errnoNumber('EINVAL'));
    } else {
      assert.ok([-sys.errnoNumber('EINVAL'), -sys.errnoNumber('ENOTTY')].includes(raw), `unexpected ${raw}`);
      t.diagnostic(`kernel without SET_FLAGS (${sys.errnoName(raw)}): fallback path`);
    }
    cont(r.listenerFd, recv(r.listenerFd));
    waitExit(r.pidfd);
    assert.equal(r.output(), `ret=${r.pid} errno=0\n`);
  } finally {
    r.cleanup();
  }
});

test('ADDFD installs an fd in the target', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  const efd = sys.eventfd(0, sys.EFD_CLOEXEC);
  try {
    const n = recv(r.listenerFd);
    const remote = sys.notifAddFd(r.listenerFd, n.id, efd);
    assert.ok(remote >= 0);
    assert.equal(readlinkSync(`/proc/${r.pid}/fd/${remote}`), 'anon_inode:[eventfd]');
    cont(r.listenerFd, n);
    waitExit(r.pidfd);
  } finally {
    sys.close(efd);
    r.cleanup();
  }
});

test('spawn failures name the failing step', { skip: SKIP }, () => {
  const attempt = (o: Partial<sys.SpawnFilteredOptions>): unknown => {
    try {
      const p = sys.spawnFiltered({ file: victim(), argv: [victim(), 'exit', '0'], env: [], filter: notifyNr(NR_GETPID), ...o });
      loadAddon().close(p.listenerFd);
      waitExit(p.pidfd);
      return undefined;
    } catch (e) {
      return e;
    }
  };
  const badOpcode = attempt({ filter: cbpf([[0xffff, 0, 0, 0]]) });
  assert.ok(badOpcode instanceof SyscallError, String(badOpcode));
  assert.equal(badOpcode.call, 'seccomp(SET_MODE_FILTER)');
  assert.equal(badOpcode.errnoName, 'EINVAL');
  assert.equal(badOpcode.code, 'ERR_SYSCALL');
  assert.match(badOpcode.message, /^seccomp\(SET_MODE_FILTER\): EINVAL \(Invalid argument\)/);
  const noReturn = attempt({ filter: cbpf([LD_NR]) });
  assert.ok(noReturn instanceof SyscallError && noReturn.call === 'seccomp(SET_MODE_FILTER)', String(noReturn));
  const missing = attempt({ file: join(dir, 'no-such-program') });
  assert.ok(missing instanceof SyscallError && missing.call === 'execve' && missing.errnoName === 'ENOENT', String(missing));
  const badCwd = attempt({ cwd: join(dir, 'no-such-dir') });
  assert.ok(badCwd instanceof SyscallError && badCwd.call === 'chdir' && badCwd.errnoName === 'ENOENT', String(badCwd));
  const badSize = attempt({ filter: new Uint8Array(12) });
  assert.ok(hasCode(badSize, 'ERR_NATIVE_ARG'), String(badSize));
  const nul = attempt({ argv: ['a\0b'] });
  assert.ok(hasCode(nul, 'ERR_NATIVE_ARG'), String(nul));
  // The raw addon reports [-errno, step] and leaves no child behind.
  const raw = loadAddon().spawnFiltered(victim(), [], [], null, cbpf([[0xffff, 0, 0, 0]]), 0, Int32Array.of(-1, -1, -1));
  assert.deepEqual([...raw], [-sys.errnoNumber('EINVAL'), sys.SPAWN_STEP_SECCOMP]);
  assert.ok(attempt({}) === undefined);
});

test('PDEATHSIG: the filtered child dies with the process that spawned it', { skip: SKIP }, async () => {
  const script = join(dir, 'parent.mjs');
  writeFileSync(
    script,
    `import { createRequire } from 'node:module';
const [addonPath, filterHex, file] = process.argv.slice(2);
const a = createRequire(import.meta.url)(addonPath);
const filter = new Uint8Array(Buffer.from(filterHex, 'hex'));
// First a child with inherited stdio: its output must reach our stdout pipe.
const first = a.spawnFiltered(file, [file, 'exit-msg'], [], null, filter, 0, new Int32Array([-1, -1, -1]));
a.waitPidfd(first[1], 4);
const r = a.spawnFiltered(file, [file, 'sleep'], [], null, filter, 0, new Int32Array([-1, -1, -1]));
process.stdout.write(first[0] + ' ' + r.join(' ') + '\\n');
setInterval(() => {}, 1000);
`,
  );
  const addonPath = addonCandidates().find((p) => existsSync(p))!;
  const parent = spawnNode(process.execPath, [script, addonPath, Buffer.from(notifyNr(NR_GETPID)).toString('hex'), victim()], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = await new Promise<string[]>((resolve, reject) => {
      let text = '';
      parent.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.split('\n').length > 2) resolve(text.trim().split('\n'));
      });
      parent.on('exit', (code) => reject(new Error(`parent exited early (${code}): ${text}`)));
      setTimeout(() => reject(new Error('parent did not report')), 10000).unref();
    });
    const [first, pid, pidfd, listener] = lines[1]!.split(' ').map(Number);
    assert.ok(pid! > 0 && pidfd! >= 0 && listener! >= 0, lines[1]);
    // Node marks its fds 0..2 close-on-exec; the inherited stdout must survive execve.
    assert.equal(lines[0], `hello from ${first}`);
    // Wait for the execve, then check the child runs under the filter.
    const deadline = Date.now() + 5000;
    while (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== basename(victim()).slice(0, 15)) {
      assert.ok(Date.now() < deadline, 'child did not exec');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Seccomp:\s+2$/m);
    parent.kill('SIGKILL');
    await new Promise((r) => parent.once('exit', r));
    // Reparented: gone, or a zombie if the reaper does not reap.
    const gone = (): boolean => {
      try {
        return /^[ZX]$/.test(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0]!);
      } catch {
        return true;
      }
    };
    const until = Date.now() + 5000;
    while (!gone()) {
      assert.ok(Date.now() < until, `child ${pid} survived its parent`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    parent.kill('SIGKILL');
  }
});

test('repeated spawns all hand the listener over (the child waits for the ack before execve)', { skip: SKIP }, () => {
  // Without the ack the child could exec (closing its CLOEXEC listener) before pidfd_getfd.
  const allow = cbpf([RET(SECCOMP_RET_ALLOW)]);
  for (let i = 0; i < 40; i++) {
    const r = run(allow, ['exit', String(i)]);
    try {
      assert.equal(waitExit(r.pidfd).status, i);
      assert.match(readlinkSync(`/proc/self/fd/${r.listenerFd}`), /seccomp/);
    } finally {
      r.cleanup();
    }
  }
});

test('waitPidfd reports exit codes, signals, and WNOHANG', { skip: SKIP }, () => {
  const allow = cbpf([RET(SECCOMP_RET_ALLOW)]);
  const a = run(allow, ['exit', '7']);
  const b = run(allow, ['sleep']);
  try {
    assert.deepEqual(waitExit(a.pidfd), { pid: a.pid, code: sys.CLD_EXITED, status: 7 });
    assert.equal(sys.waitPidfd(b.pidfd, sys.WEXITED | sys.WNOHANG), null);
    sys.kill(b.pid, 0);
    sys.pidfdSendSignal(b.pidfd, 15);
    assert.deepEqual(waitExit(b.pidfd), { pid: b.pid, code: sys.CLD_KILLED, status: 15 });
    // Reaped: a second wait fails with ECHILD.
    assert.equal(loadAddon().waitPidfd(b.pidfd, sys.WEXITED | sys.WNOHANG), -sys.errnoNumber('ECHILD'));
    assert.throws(() => sys.kill(0x3fff_fff0, 0), (e: unknown) => e instanceof SyscallError && e.errnoName === 'ESRCH');
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test('procTask reads the notifying thread from /proc; readMemory is all-or-nothing', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['thread']);
  try {
    const n = recv(r.listenerFd);
    const tid = Number(n.args[1]);
    assert.equal(n.pid, tid);
    assert.notEqual(tid, r.pid);
    const task = procTask(tid);
    const leader = procTask(r.pid);
    assert.equal(task.tid, tid);
    assert.equal(task.tgid(), r.pid);
    assert.equal(task.uid(), process.getuid!());
    assert.equal(task.gid(), process.getgid!());
    assert.equal(task.comm(), 'victim-thr');
    assert.equal(leader.comm(), basename(victim()).slice(0, 15));
    assert.equal(task.leaderKey(), leader.leaderKey());
    assert.match(task.leaderKey(), new RegExp(`^${r.pid}:\\d+$`));
    assert.ok(task.cpu() >= 0 && task.cpu() < systemHost().possibleCpus);
    assert.deepEqual(task.readMemory(n.args[0]!, 9), new TextEncoder().encode('the quick'));
    assert.equal(task.readMemory(0x10n, 8), -14);
    assert.equal(procTask(tid, () => 3).readMemory(n.args[0]!, 8), -14, 'a short read is -EFAULT');
    assert.deepEqual(task.readMemory(0n, 0), new Uint8Array(0));
    cont(r.listenerFd, n);
    waitExit(r.pidfd);
    assert.equal(r.output(), `thread ret=${r.pid} tid=${tid}\n`);
    assert.throws(() => procTask(tid).uid(), (e: unknown) => hasCode(e, 'ERR_TASK_GONE'));
  } finally {
    r.cleanup();
  }
});

// ---- small syscalls ------------------------------------------------------------------------

test('eventfd, poll, clocks, getcpu, notification sizes', { skip: SKIP }, () => {
  const fd = sys.eventfd(0, sys.EFD_CLOEXEC | sys.EFD_NONBLOCK);
  try {
    assert.equal(sys.pollOne(fd, sys.POLLIN, 0), 0);
    assert.equal(loadAddon().eventfdRead(fd), -sys.errnoNumber('EAGAIN'));
    sys.eventfdWrite(fd, 5n);
    sys.eventfdWrite(fd, 2n);
    assert.equal(sys.pollOne(fd, sys.POLLIN, 1000), sys.POLLIN);
    assert.equal(sys.eventfdRead(fd), 7n);
  } finally {
    sys.close(fd);
  }
  assert.equal(loadAddon().close(fd), -sys.errnoNumber('EBADF'));
  // libuv's hrtime is CLOCK_MONOTONIC too: a second implementation to bracket ours.
  const before = process.hrtime.bigint();
  const mono = sys.clockGetTime(sys.CLOCK_MONOTONIC);
  const after = process.hrtime.bigint();
  assert.ok(before <= mono && mono <= after, `${before} <= ${mono} <= ${after}`);
  assert.ok(sys.clockGetTime(sys.CLOCK_BOOTTIME) >= mono);
  assert.throws(() => sys.clockGetTime(12345), (e: unknown) => e instanceof SyscallError && e.errnoName === 'EINVAL');
  const host = systemHost(() => {});
  assert.ok(host.monotonicNs() >= mono);
  assert.equal(host.possibleCpus, parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
  assert.equal(parseCpuList('0-3,8-11\n'), 12);
  const draws = Array.from({ length: 64 }, () => host.random32());
  assert.ok(draws.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff));
  assert.ok(new Set(draws).size > 60, 'random32 repeats');
  const cpu = sys.getcpu();
  assert.ok(cpu >= 0 && cpu < host.possibleCpus);
  assert.deepEqual(sys.seccompNotifSizes(), { notif: SECCOMP_NOTIF_SIZE, resp: SECCOMP_NOTIF_RESP_SIZE, data: SECCOMP_DATA_SIZE });
});

test('the addon loads in a worker thread (context-aware)', { skip: SKIP }, async () => {
  const path = addonCandidates().find((p) => existsSync(p))!;
  const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads'); const a = require(workerData); parentPort.postMessage(typeof a.clockGetTime(1));`, { eval: true, workerData: path });
  const msg = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(msg, 'bigint');
});

// ---- the notification waiter (native/waiter.c) ------------------------------------------------

const { NEXT_NOTIF, NEXT_EXITED, NEXT_TIMEOUT, BUF_SIZE: WAITER_BUF, RESP_ERROR, RESP_FLAGS, SEND, SEND_RESULT } = WAITER;

function openWaiter(r: Run): { next(timeoutMs: number): number; buf: Uint8Array; words: Int32Array; close(): void } {
  const a = loadAddon();
  const buf = new Uint8Array(WAITER_BUF);
  const w = a.notifWaiterOpen(r.listenerFd, r.pidfd, buf);
  if (typeof w === 'number') assert.fail(`notifWaiterOpen failed: errno ${-w}`);
  const handle = w as Exclude<typeof w, number>;
  return { next: (t) => a.notifWaiterNext(handle, t), buf, words: new Int32Array(buf.buffer), close: () => a.notifWaiterClose(handle) };
}

test('waiter: one call sends the answer and waits; the exit ends the wait', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  const w = openWaiter(r);
  try {
    assert.equal(w.next(5000), NEXT_NOTIF);
    const n = parseNotif(w.buf);
    assert.equal(n.pid, r.pid);
    assert.equal(n.nr, NR_GETPID);
    // The response's id was filled in from the notification.
    assert.equal(new DataView(w.buf.buffer).getBigUint64(80, true), n.id);
    w.words[RESP_ERROR] = -ERRNO_EPERM;
    w.words[RESP_FLAGS] = 0;
    w.words[SEND] = 1;
    assert.equal(w.next(5000), NEXT_EXITED);
    assert.equal(w.words[SEND_RESULT], 0);
    assert.equal(w.words[SEND], 0, 'the send flag is cleared');
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_EXITED, status: 0 });
    assert.equal(r.output(), `ret=-1 errno=${ERRNO_EPERM}\n`);
  } finally {
    w.close();
    r.cleanup();
  }
});

test('waiter: a timeout, then an exit interrupts a blocking RECV', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['sleep']);
  const w = openWaiter(r);
  try {
    let t0 = Date.now();
    assert.equal(w.next(60), NEXT_TIMEOUT);
    const waited = Date.now() - t0;
    assert.ok(waited >= 55 && waited < 3000, `timeout after ${waited} ms`);
    setTimeoutKill(r.pidfd, 100);
    t0 = Date.now();
    assert.equal(w.next(-1), NEXT_EXITED);
    assert.ok(Date.now() - t0 < 3000, 'the exit did not end the wait promptly');
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_KILLED, status: 9 });
  } finally {
    w.close();
    r.cleanup();
  }
});

test('waiter: the exit ends the wait while a descendant still uses the filter', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['fork-sleep']);
  const w = openWaiter(r);
  try {
    assert.equal(w.next(5000), NEXT_EXITED);
    assert.deepEqual(waitExit(r.pidfd), { pid: r.pid, code: sys.CLD_EXITED, status: 0 });
  } finally {
    w.close();
    const g = /grandchild=(\d+)/.exec(r.output());
    if (g) process.kill(Number(g[1]), 'SIGKILL');
    r.cleanup();
  }
  assert.match(r.output(), /grandchild=\d+/);
});

test('waiter: answering a killed target reports ENOENT in the send result', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['getpid']);
  const w = openWaiter(r);
  try {
    assert.equal(w.next(5000), NEXT_NOTIF);
    sys.pidfdSendSignal(r.pidfd, 9);
    assert.ok(sys.pollOne(r.pidfd, sys.POLLIN, 5000) & sys.POLLIN);
    w.words[RESP_FLAGS] = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    w.words[SEND] = 1;
    assert.equal(w.next(5000), NEXT_EXITED);
    assert.equal(w.words[SEND_RESULT], -sys.errnoNumber('ENOENT'));
  } finally {
    w.close();
    r.cleanup();
  }
});

test('waiter: bad arguments', { skip: SKIP }, () => {
  const r = run(notifyNr(NR_GETPID), ['sleep']);
  const a = loadAddon();
  assert.equal(a.notifWaiterOpen(r.listenerFd, r.pidfd, new Uint8Array(WAITER_BUF - 1)), -sys.errnoNumber('EINVAL'));
  const w = a.notifWaiterOpen(r.listenerFd, r.pidfd, new Uint8Array(WAITER_BUF)) as Exclude<ReturnType<typeof a.notifWaiterOpen>, number>;
  try {
    assert.throws(() => (a.notifWaiterNext as (...x: unknown[]) => number)({}, 0), TypeError);
    assert.equal(a.notifWaiterClose(w), 0);
    assert.equal(a.notifWaiterClose(w), 0, 'closing twice is harmless');
    assert.equal(a.notifWaiterNext(w, 0), -sys.errnoNumber('EINVAL'), 'a closed waiter');
  } finally {
    r.cleanup();
  }
});

/** SIGKILLs the pidfd's process after `ms`, from another thread (the test's thread is blocked). */
function setTimeoutKill(pidfd: number, ms: number): void {
  const path = addonCandidates().find((p) => existsSync(p))!;
  new Worker(`const { workerData: [p, fd, ms] } = require('node:worker_threads'); const a = require(p);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); a.pidfdSendSignal(fd, 9);`, { eval: true, workerData: [path, pidfd, ms] }).unref();
}

test('bad arguments give ERR_NATIVE_ARG, not a TypeError or a crash', { skip: SKIP }, () => {
  const bad: (() => unknown)[] = [
    () => sys.notifReceive(3, new Uint8Array(10)),
    () => sys.notifRespond(-1, 1n, 0n, 0, 0),
    () => sys.notifIdValid(3, -1n),
    () => sys.readProcessMemory(1, 0n, 'x' as unknown as Uint8Array),
    () => sys.bpfProgLoad(1, new Uint8Array(7), 'GPL'),
    () => sys.eventfdWrite(3, 2n ** 64n),
  ];
  for (const f of bad) assert.throws(f, (e: unknown) => hasCode(e, 'ERR_NATIVE_ARG'));
  // The raw addon refuses wrong types with a TypeError instead of reaching the kernel.
  assert.throws(() => (loadAddon().notifReceive as (...a: unknown[]) => number)(3, 'x'), TypeError);
});

// ---- bpf(2) --------------------------------------------------------------------------------

const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_MAP_TYPE_HASH = 1;
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;

/** mov64 r0, imm; exit */
function retImm(imm: number): Uint8Array {
  const p = new Uint8Array(16);
  const dv = new DataView(p.buffer);
  p[0] = 0xb7;
  dv.setInt32(4, imm, true);
  p[8] = 0x95;
  return p;
}

test('bpfProgLoad + bpfProgTestRun run a program in the kernel', { skip: SKIP ?? NOT_ROOT }, () => {
  const fd = sys.bpfProgLoad(BPF_PROG_TYPE_SOCKET_FILTER, retImm(42), 'GPL');
  const neg = sys.bpfProgLoad(BPF_PROG_TYPE_SOCKET_FILTER, retImm(-1), 'GPL');
  try {
    assert.equal(sys.bpfProgTestRun(fd, new Uint8Array(64)).retval, 42);
    assert.equal(sys.bpfProgTestRun(neg, new Uint8Array(64)).retval, 0xffff_ffff);
    const raw = loadAddon().bpfProgTestRun(neg, new Uint8Array(64), 1);
    assert.ok(raw instanceof Int32Array && raw[0] === -1, 'raw retval is the u32 in an int32 slot');
  } finally {
    sys.close(fd);
    sys.close(neg);
  }
  // exit without setting r0: the verifier refuses, and the log says why.
  const log = new Uint8Array(4096);
  assert.throws(
    () => sys.bpfProgLoad(BPF_PROG_TYPE_SOCKET_FILTER, retImm(0).subarray(8), 'GPL', 1, log),
    (e: unknown) => e instanceof SyscallError && e.errnoName === 'EACCES' && /R0 !read_ok/.test(e.message),
  );
});

test('bpf maps: create, update, lookup, iterate, delete; short buffers are refused', { skip: SKIP ?? NOT_ROOT }, () => {
  const fd = sys.bpfMapCreate(BPF_MAP_TYPE_HASH, 4, 8, 16);
  const key = (k: number): Uint8Array => Uint8Array.of(k, 0, 0, 0);
  try {
    const v = new Uint8Array(8);
    assert.equal(sys.bpfMapLookup(fd, key(1), v), false);
    sys.bpfMapUpdate(fd, key(1), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    assert.equal(sys.bpfMapLookup(fd, key(1), v), true);
    assert.deepEqual(v, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const next = new Uint8Array(4);
    assert.equal(sys.bpfMapGetNextKey(fd, null, next), true);
    assert.deepEqual(next, key(1));
    assert.equal(sys.bpfMapGetNextKey(fd, key(1), next), false);
    // BPF_NOEXIST on an existing key: EEXIST from the kernel.
    assert.throws(() => sys.bpfMapUpdate(fd, key(1), v, 1), (e: unknown) => e instanceof SyscallError && e.errnoName === 'EEXIST');
    assert.equal(loadAddon().bpfMapLookup(fd, key(1), new Uint8Array(4)), -sys.errnoNumber('EINVAL'));
    assert.equal(loadAddon().bpfMapLookup(fd, new Uint8Array(2), v), -sys.errnoNumber('EINVAL'));
    assert.equal(sys.bpfMapDelete(fd, key(1)), true);
    assert.equal(sys.bpfMapDelete(fd, key(1)), false);
  } finally {
    sys.close(fd);
  }
  const pc = sys.bpfMapCreate(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1);
  try {
    const cpus = systemHost(() => {}).possibleCpus;
    assert.equal(loadAddon().bpfMapLookup(pc, key(0), new Uint8Array(4)), cpus > 1 ? -sys.errnoNumber('EINVAL') : 0);
    assert.equal(sys.bpfMapLookup(pc, key(0), new Uint8Array(8 * cpus)), true);
  } finally {
    sys.close(pc);
  }
});

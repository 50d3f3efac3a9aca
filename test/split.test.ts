// The split (src/split): what the analysis decides for the examples and the default policy,
// that the emitted classic filter computes exactly the analysed trees (cbpf interpreter), that
// constant syscalls take a path the kernel's seccomp action cache accepts, 64-bit comparisons
// at every 2^32 boundary against the eBPF VM, the fallbacks to the supervisor, the size limit,
// and `seccomp-ebpf explain`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ADD, BPF_ALU, BPF_AND, BPF_ARSH, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LSH, BPF_RSH,
} from '../src/abi/bpf.js';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG,
  SECCOMP_RET_USER_NOTIF,
} from '../src/abi/seccomp.js';
import { syscallNumber } from '../src/abi/syscalls-x86_64.js';
import { seccompData } from '../src/cbpf/data.js';
import { compileClassic } from '../src/cbpf/interpreter.js';
import type { CInsn } from '../src/cbpf/insn.js';
import { OP } from '../src/cbpf/opcodes.js';
import { checkClassic } from '../src/cbpf/check.js';
import { main } from '../src/cli/main.js';
import type { Insn } from '../src/ebpf/insn.js';
import { assemble } from '../src/ebpf/asm.js';
import { createHelpers } from '../src/ebpf/helpers/index.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { simulatedHost, simulatedTask } from '../src/ebpf/vm/simulated.js';
import { hasCode, loadFilter } from '../src/index.js';
import { evalTree, splitProgram, type SplitResult, type Region } from '../src/split/index.js';
import { I, prog } from './helpers/progen.js';

const ALLOW = SECCOMP_RET_ALLOW;
const EPERM = SECCOMP_RET_ERRNO | 1;
const NOTIFY = SECCOMP_RET_USER_NOTIF;
const nr = (name: string): number => syscallNumber(name)!;

async function splitOf(path: string, globals: Record<string, number> = {}): Promise<SplitResult> {
  return (await loadFilter(path, { globals })).split();
}

/** The constant verdict of a region, 'notify' when it always goes to the supervisor, else 'args'. */
function kind(r: Region): number | 'notify' | 'args' {
  return r.tree.kind === 'ret' ? r.tree.value : r.tree.kind === 'notify' ? 'notify' : 'args';
}

/** Numbers of the regions that are not a constant `verdict`. */
function exceptions(s: SplitResult, verdict: number): Map<number, ReturnType<typeof kind>> {
  const out = new Map<number, ReturnType<typeof kind>>();
  s.syscalls.forEach((r, n) => {
    if (kind(r) !== verdict) out.set(n, kind(r));
  });
  return out;
}

/**
 * The kernel's seccomp action cache (kernel/seccomp.c seccomp_is_const_allow): it emulates the
 * filter for one (arch, nr) and caches ALLOW only if the path loads nothing but nr and arch and
 * uses only ja, jeq/jge/jgt/jset #k, and #k, ret #k.
 */
function constAllow(filter: readonly CInsn[], arch: number, n: number): boolean {
  let a = 0;
  for (let pc = 0; pc < filter.length;) {
    const { code, jt, jf, k } = filter[pc]!;
    switch (code) {
      case OP.LD_ABS:
        if (k !== 0 && k !== 4) return false;
        a = k === 0 ? n : arch;
        pc++;
        break;
      case OP.JA: pc += 1 + k; break;
      case OP.JEQ_K: pc += 1 + (a === k ? jt : jf); break;
      case OP.JGE_K: pc += 1 + (a >= k ? jt : jf); break;
      case OP.JGT_K: pc += 1 + (a > k ? jt : jf); break;
      case OP.JSET_K: pc += 1 + ((a & k) !== 0 ? jt : jf); break;
      case BPF_ALU | BPF_AND | BPF_K: a = (a & k) >>> 0; pc++; break;
      case OP.RET_K: return k === ALLOW;
      default: return false;
    }
  }
  return false;
}

/** The filter and the trees agree on `data` (the filter returns USER_NOTIF where a tree notifies). */
function assertLowered(s: SplitResult, data: Uint8Array): void {
  const words = new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + 64));
  const region = words[1] !== AUDIT_ARCH_X86_64 ? s.foreign : words[0]! < s.syscalls.length ? s.syscalls[words[0]!]! : s.other;
  const want = evalTree(region.tree, words);
  const got = compileClassic(s.filter).run(data);
  assert.equal(got, want === 'notify' ? NOTIFY : want, `data ${Buffer.from(data).toString('hex')}`);
}

test('exec-once: only execve and execveat go to the supervisor; everything else is ALLOW in the kernel', async () => {
  const s = await splitOf('examples/exec-once.bpf.o');
  assert.deepEqual([...exceptions(s, ALLOW)], [[nr('execve'), 'notify'], [nr('execveat'), 'notify']]);
  assert.deepEqual(s.syscalls[nr('execve')]!.reasons.map((r) => [r.kind, r.insn]), [['map', 10]]);
  assert.equal(kind(s.other), ALLOW); // the program lets x32 numbers through: so does the split
  assert.equal(kind(s.foreign), EPERM);
  assert.deepEqual(s.warnings, []);
  checkClassic(s.filter);
  // Every allowed syscall is cacheable by the kernel; execve is not (it must reach the supervisor).
  for (let n = 0; n < s.syscalls.length; n++) assert.equal(constAllow(s.filter, AUDIT_ARCH_X86_64, n), n !== 59 && n !== 322, `nr ${n}`);
});

test('close-999: close has an argument test in the kernel and nothing goes to the supervisor', async () => {
  const s = await splitOf('examples/close-999.bpf.o');
  assert.deepEqual([...exceptions(s, ALLOW)], [[3, 'args']]);
  for (const r of [...s.syscalls, s.other, s.foreign]) assert.deepEqual(r.reasons, []);
  const close = (fd: bigint): number => compileClassic(s.filter).run(seccompData({ nr: 3, args: [fd] }));
  assert.equal(close(999n), EPERM);
  assert.equal(close(998n), ALLOW);
  assert.equal(close(999n + (1n << 32n)), ALLOW); // all 64 bits compared
  assert.equal(close((1n << 64n) - 999n), ALLOW);
  assert.equal(constAllow(s.filter, AUDIT_ARCH_X86_64, 3), false);
  assert.equal(constAllow(s.filter, AUDIT_ARCH_X86_64, 2), true);
  assert.ok(s.filter.length <= 12, `filter of ${s.filter.length} instructions`);
});

test('fault-inject: only syscall NR goes to the supervisor (the .rodata NR is a constant)', async () => {
  const s = await splitOf('examples/fault-inject.bpf.o', { NR: 39 });
  assert.deepEqual([...exceptions(s, ALLOW)], [[39, 'notify']]);
  const t = await splitOf('examples/fault-inject.bpf.o', { NR: 3 });
  assert.deepEqual([...exceptions(t, ALLOW)], [[3, 'notify']]);
  const x32 = await splitOf('examples/fault-inject.bpf.o', { NR: 0x4000_0027 });
  assert.deepEqual([...exceptions(x32, ALLOW)], []);
  assert.equal(compileClassic(x32.filter).run(seccompData({ nr: 0x4000_0027 })), NOTIFY);
  assert.equal(compileClassic(x32.filter).run(seccompData({ nr: 0x4000_0026 })), ALLOW);
});

test('getpid-half: getpid goes to the supervisor; syscall-count and phase: everything does', async () => {
  const g = await splitOf('examples/getpid-half.bpf.o');
  assert.deepEqual([...exceptions(g, ALLOW)], [[39, 'notify']]);
  const c = await splitOf('examples/syscall-count.bpf.o');
  assert.equal(exceptions(c, ALLOW).size, c.syscalls.length);
  assert.ok(c.syscalls.every((r) => kind(r) === 'notify' && r.reasons.some((x) => x.kind === 'helper' && /bpf_map_lookup_elem/.test(x.message))));
  assert.equal(kind(c.other), 'notify');
  assert.equal(kind(c.foreign), EPERM);
  const p = await splitOf('examples/phase.bpf.o');
  assert.ok(p.syscalls.every((r) => kind(r) === 'notify' && r.reasons.some((x) => x.kind === 'map' && /\.bss/.test(x.message))));
});

test('default policy: exec to the supervisor, the EPERM list, the arch check and the x32 kill in the kernel', async () => {
  const s = await splitOf('policies/default.bpf.o');
  const eperm = ['ptrace', 'process_vm_readv', 'process_vm_writev', 'bpf', 'perf_event_open', 'kexec_load', 'kexec_file_load',
    'init_module', 'finit_module', 'delete_module', 'mount', 'umount2'].map(nr);
  const want = new Map<number, number | 'notify'>([[59, 'notify'], [322, 'notify'], ...eperm.map((n) => [n, EPERM] as [number, number])]);
  assert.deepEqual(new Map([...exceptions(s, ALLOW)].sort((a, b) => a[0] - b[0])), new Map([...want].sort((a, b) => a[0] - b[0])));
  const run = (n: number, arch = AUDIT_ARCH_X86_64): number => compileClassic(s.filter).run(seccompData({ nr: n, arch }));
  assert.equal(run(0x4000_0000 | 39), SECCOMP_RET_KILL_PROCESS);
  assert.equal(run(0x4000_0000 | 59), SECCOMP_RET_KILL_PROCESS);
  assert.equal(run(-1), ALLOW); // a tracer's skipped syscall
  assert.equal(run(470), ALLOW);
  assert.equal(run(39, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS);
  assert.equal(run(59), NOTIFY);
  assert.equal(run(101), EPERM);
  for (let n = 0; n < s.syscalls.length; n++) assert.equal(constAllow(s.filter, AUDIT_ARCH_X86_64, n), kind(s.syscalls[n]!) === ALLOW, `nr ${n}`);
  assert.ok(s.filter.length < 40, `filter of ${s.filter.length} instructions`);
});

test('the filters of every example compute exactly their trees (random and boundary syscalls)', async () => {
  const files = ['close-999', 'exec-once', 'fault-inject', 'getpid-half', 'phase', 'syscall-count'].map((f) => `examples/${f}.bpf.o`);
  let seed = 7;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (const f of [...files, 'policies/default.bpf.o']) {
    const s = await splitOf(f);
    for (let i = 0; i < 300; i++) {
      const n = [rnd() % 480, 0x4000_0000 + (rnd() % 480), 0xffff_ffff, rnd()][i % 4]!;
      const arch = i % 7 === 0 ? AUDIT_ARCH_I386 : i % 11 === 0 ? rnd() : AUDIT_ARCH_X86_64;
      assertLowered(s, seccompData({ nr: n, arch, args: [BigInt(rnd()) * 997n, 999n, BigInt(rnd())] }));
    }
  }
});

// ---- 64-bit comparisons at every 2^32 boundary, against the VM -------------------------------

const JUMPS = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSET, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];
const BOUNDS = [0n, 1n << 31n, 1n << 32n, 1n << 63n, (1n << 64n) - 1n];
const KS = [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_0000_0001n, 0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_8000_0000n, 0xffff_ffff_ffff_fffen];
/** What clang emits to get at an argument: the whole arg, (s64)(s32)arg, (u32)arg, arg >> 32, arg & mask, arg + 1. */
const LHS: Record<string, Insn[]> = {
  arg: [],
  'sext32': [I.alu64K(BPF_LSH, 1, 32), I.alu64K(BPF_ARSH, 1, 32)],
  'u32': [I.mov32X(1, 1)],
  'hi': [I.alu64K(BPF_RSH, 1, 32)],
  'mask': [I.alu64K(BPF_AND, 1, 0x40)],
  'plus1': [I.alu64K(BPF_ADD, 1, 1)],
};

test('64-bit and 32-bit comparisons, signed and unsigned, at every 2^32 boundary: classic filter == eBPF VM', () => {
  const vmOpts = { maps: [], helpers: createHelpers(), host: simulatedHost() };
  const task = simulatedTask();
  const near = (v: bigint): bigint[] => [-2n, -1n, 0n, 1n, 2n].map((d) => BigInt.asUintN(64, v + d));
  let checked = 0;
  for (const [name, lhs] of Object.entries(LHS)) {
    for (const op of JUMPS) {
      for (const k of KS) {
        const forms: [string, Insn[]][] = [
          ['jmp x', [...I.lddw(2, k), I.jX(op, 1, 2, 2)]],
          ['jmp32 k', [I.j32K(op, 1, Number(BigInt.asIntN(32, k)), 2)]],
          ['jmp32 x', [...I.lddw(2, k), I.j32X(op, 1, 2, 2)]],
        ];
        if (BigInt.asUintN(64, BigInt.asIntN(32, k)) === k) forms.push(['jmp k', [I.jK(op, 1, Number(BigInt.asIntN(32, k)), 2)]]);
        for (const [form, jump] of forms) {
          const insns = prog(I.ldx('dw', 1, 1, 16), ...lhs, ...jump, I.mov32K(0, ALLOW), I.exit(), I.mov32K(0, EPERM), I.exit());
          const s = splitProgram({ insns, maps: [] }, { maxNr: 0 });
          const what = `${name} ${form} op 0x${op.toString(16)} k 0x${k.toString(16)}`;
          assert.deepEqual(s.syscalls[0]!.reasons, [], what); // decided in the kernel
          const classic = compileClassic(s.filter);
          const vm = createVm(insns, vmOpts);
          for (const v of [...BOUNDS.flatMap(near), ...near(k)]) {
            const data = seccompData({ nr: 0, args: [v] });
            assert.equal(classic.run(data), Number(vm.run(data, task)), `${what} arg 0x${v.toString(16)}`);
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 50_000, `${checked} comparisons`);
});

// ---- fallbacks ---------------------------------------------------------------------------

/** The split of assembly text (not verified: the analysis must cope with any decodable program). */
async function splitAsm(text: string, opts: Parameters<typeof splitProgram>[1] = {}): Promise<SplitResult> {
  return splitProgram({ insns: assemble(text), maps: [] }, opts);
}

test('what the kernel cannot decide goes to the supervisor, with the instruction to blame', async () => {
  // A 64-bit product of two arguments: not expressible in classic BPF.
  const mul = await splitAsm('r2 = *(u64 *)(r1 + 16)\nr3 = *(u64 *)(r1 + 24)\nr2 *= r3\nw0 = 0x7fff0000\nif r2 == 6 goto +1\nexit\nw0 = 0x50001\nexit\n');
  assert.equal(kind(mul.syscalls[0]!), 'notify');
  assert.deepEqual(mul.syscalls[0]!.reasons.map((r) => [r.kind, r.insn]), [['unsupported', 2]]);
  // The instruction pointer is an ordinary seccomp_data word: that test stays in the kernel.
  const ip = await splitAsm('r2 = *(u64 *)(r1 + 8)\nw0 = 0x7fff0000\nif r2 > 0x1000 goto +1\nexit\nw0 = 0x50001\nexit\n');
  assert.equal(kind(ip.syscalls[0]!), 'args');
  // LOG is logged by the supervisor; a fault is reported by it; a helper needs it.
  const log = await splitAsm('w0 = 0x7ffc0000\nexit\n');
  assert.deepEqual(log.syscalls[5]!.reasons.map((r) => r.kind), ['verdict']);
  const fault = await splitAsm('r0 = *(u64 *)(r1 + 60)\nexit\n');
  assert.deepEqual(fault.syscalls[5]!.reasons.map((r) => [r.kind, r.insn]), [['fault', 0]]);
  const helper = await splitAsm('call 7\nw0 = 0x7fff0000\nexit\n');
  assert.match(helper.syscalls[5]!.reasons[0]!.message, /bpf_get_prandom_u32/);
  // A loop on an argument: over budget, the whole syscall goes to the supervisor.
  const loop = await splitAsm('r2 = *(u64 *)(r1 + 16)\nr3 = 0\nl: r3 += 1\nif r3 != r2 goto l\nw0 = 0x7fff0000\nexit\n', { budget: 5000, maxNr: 1 });
  assert.equal(kind(loop.syscalls[0]!), 'notify');
  assert.deepEqual(loop.syscalls[0]!.reasons.map((r) => r.kind), ['budget']);
  // A program returning USER_NOTIF for the library's handler: the kernel notifies, the supervisor reruns it.
  const un = await splitAsm('w0 = 0x7fc00000\nexit\n');
  assert.equal(compileClassic(un.filter).run(seccompData({ nr: 1 })), NOTIFY);
});

test('a verdict computed from an argument is `ret A` in the kernel, except LOG', async () => {
  const s = await splitAsm('r0 = *(u64 *)(r1 + 16)\nexit\n');
  const run = (a: bigint): number => compileClassic(s.filter).run(seccompData({ nr: 1, args: [a] }));
  assert.equal(run(0x5_0005n), 0x5_0005);
  assert.equal(run(0x1234_7fff_0000n), ALLOW); // r0 is truncated to 32 bits
  assert.equal(run(BigInt(SECCOMP_RET_LOG | 3)), NOTIFY);
  assert.deepEqual(s.syscalls[1]!.reasons.map((r) => r.kind), ['verdict']);
});

test('a filter over the size limit sends the largest trees to the supervisor and says so', async () => {
  // Every syscall tests args[0] against its own number: one tree per syscall.
  const insns = prog(I.ldx('w', 2, 1, 0), I.ldx('dw', 3, 1, 16), I.mov32K(0, ALLOW), I.jX(BPF_JNE, 2, 3, 1), I.mov32K(0, EPERM), I.exit());
  const full = splitProgram({ insns, maps: [] });
  assert.deepEqual(full.warnings, []);
  assert.ok(full.filter.length > 2500, `${full.filter.length} instructions`);
  const small = splitProgram({ insns, maps: [] }, { maxInsns: 2500 });
  assert.ok(small.filter.length <= 2500 && small.filter.length > 1500, `${small.filter.length} instructions`);
  assert.equal(small.warnings.length > 0, true);
  assert.match(small.warnings[0]!, /sent to the supervisor, the kernel filter would exceed 2500 instructions/);
  const demoted = small.syscalls.filter((r) => r.reasons.some((x) => x.kind === 'size'));
  assert.ok(demoted.length > 0 && demoted.length < small.syscalls.length, `${demoted.length} demoted`);
  for (const n of [0, 3, 100, 300, 469]) {
    for (const a of [BigInt(n), BigInt(n + 1)]) {
      const data = seccompData({ nr: n, args: [a] });
      const v = compileClassic(small.filter).run(data);
      const vm = Number(createVm(insns, { maps: [], helpers: createHelpers(), host: simulatedHost() }).run(data, simulatedTask()));
      assert.ok(v === vm || v === NOTIFY, `nr ${n} arg ${a}: ${v} vs ${vm}`);
      assert.equal(compileClassic(full.filter).run(data), vm);
    }
  }
});

test('bad input: unknown options and invalid programs are SeccompEbpfErrors', () => {
  const insns = prog(I.mov32K(0, ALLOW), I.exit());
  assert.throws(() => splitProgram({ insns, maps: [] }, { nope: 1 } as never), (e) => hasCode(e, 'ERR_SPLIT_OPTIONS'));
  assert.throws(() => splitProgram({ insns, maps: [] }, { maxInsns: 5000 }), (e) => hasCode(e, 'ERR_SPLIT_OPTIONS'));
  assert.throws(() => splitProgram({ insns, maps: [] }, { budget: 0 }), (e) => hasCode(e, 'ERR_SPLIT_OPTIONS'));
  assert.throws(() => splitProgram({ insns: [{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }], maps: [] }), (e) => hasCode(e, 'ERR_VM_BAD_INSN'));
  assert.throws(() => splitProgram({ insns: [], maps: [] }), (e) => hasCode(e, 'ERR_VM_BAD_INSN'));
  // A classic-style program that never exits: the kernel filter still stands, the supervisor reports the fault.
  const noExit = splitProgram({ insns: prog(I.mov32K(0, ALLOW)), maps: [] });
  assert.deepEqual(noExit.syscalls[0]!.reasons.map((r) => r.kind), ['fault']);
});

// ---- explain ------------------------------------------------------------------------------

async function explain(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '', err = '';
  const status = await main(['explain', ...args], { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { status, out, err };
}

test('explain: per syscall what the kernel decides and what goes to the supervisor, and the filter size', async () => {
  const e = await explain(['examples/exec-once.bpf.o']);
  assert.equal(e.status, 0);
  assert.match(e.out, /^examples\/exec-once\.bpf\.o \(program exec_once\): kernel filter of 9 classic-BPF instructions\n/);
  assert.match(e.out, /\n {2}ALLOW {11}468 numbers: every other one\n/);
  assert.match(e.out, /\n {2}supervisor {6}execve, execveat\n {18}because it updates map \.bss atomically \(insn 10\)\n/);
  assert.match(e.out, /\nother architectures:\n {2}ERRNO\(EPERM\)\n/);
  const c = await explain(['examples/close-999.bpf.o', '--cbpf']);
  assert.match(c.out, /\n {2}close {11}depends on the arguments:\n {6}if args\[0\]\.hi == 0\n {8}if args\[0\]\.lo == 0x3e7 -> ERRNO\(EPERM\)\n/);
  assert.match(c.out, /to the supervisor: no x86_64 syscall/);
  assert.match(c.out, /\nl0: {4}ld \[4\]/);
  // .rodata globals are constants: --global moves the notified syscall.
  const g = await explain(['examples/fault-inject.bpf.o', '--global', 'NR=3']);
  assert.match(g.out, /\n {2}supervisor {6}close\n/);
  const d = await explain([]);
  assert.match(d.out, /policies\/default\.bpf\.o/);
  assert.match(d.out, /if nr & 0x40000000 != 0 -> KILL_PROCESS/);
  const bad = await explain(['examples/fault-inject.bpf.o', '--global', 'NOPE=1']);
  assert.equal(bad.status, 1);
  assert.match(bad.err, /error\[ERR_GLOBAL_UNKNOWN\]/);
});

test('a classic filter converted to eBPF splits back whole: everything in the kernel, same verdicts', async () => {
  const { classicToEbpf } = await import('../src/cbpf/to-ebpf.js');
  const { assembleClassic } = await import('../src/cbpf/asm.js');
  // A hand-written filter with arithmetic on arguments, and the split filters of the examples.
  const hand = assembleClassic([
    'ld [0]', 'jeq #1, write, other',
    'write: ld [32]', 'and #0xff', 'add #3', 'tax', 'ld [36]', 'or x', 'jgt #0x80, big, small',
    'big: ret #0x50016', 'small: ld [16]', 'rsh #2', 'ret a',
    'other: ret #0x7fff0000',
  ].join('\n'));
  const filters = [hand, (await splitOf('policies/default.bpf.o')).filter, (await splitOf('examples/close-999.bpf.o')).filter];
  let seed = 3;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (const original of filters) {
    const again = splitProgram({ insns: classicToEbpf(original), maps: [] });
    // Only a verdict computed from the arguments may reach the supervisor, for its LOG values.
    for (const r of [...again.syscalls, again.other, again.foreign]) assert.ok(r.reasons.every((x) => x.kind === 'verdict'));
    const a = compileClassic(original), b = compileClassic(again.filter);
    for (let i = 0; i < 2000; i++) {
      const data = seccompData({ nr: [1, 3, 59, 101, rnd() % 500, 0x4000_0000 | (rnd() % 500), 0xffff_ffff][i % 7]!,
        arch: i % 13 === 0 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64,
        args: [BigInt(rnd()) | (i % 3 === 0 ? 999n : 0n), BigInt(rnd()), BigInt(rnd() % 512) << BigInt(rnd() % 40)] });
      const want = a.run(data);
      assert.equal(b.run(data), ((want & 0xffff0000) >>> 0) === SECCOMP_RET_LOG ? NOTIFY : want, Buffer.from(data).toString('hex'));
    }
    assert.ok(again.filter.length <= original.length + 8, `${original.length} -> ${again.filter.length} instructions`);
  }
});

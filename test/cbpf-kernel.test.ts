// Differential tests of the classic-BPF checker and interpreter against the running kernel's
// seccomp(2). A small C helper (test/fixtures/cbpf/seccomp-probe.c) installs each filter in a
// forked child (never in the test process) and reports what the kernel did: the errno of
// seccomp(SECCOMP_SET_MODE_FILTER), or what happened to a real syscall made under the filter.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeClassic } from '../src/cbpf/codec.js';
import { findClassicProblem, chainInstructionCount, kernelProgramLength } from '../src/cbpf/check.js';
import { compileClassic, runClassic } from '../src/cbpf/interpreter.js';
import { seccompData } from '../src/cbpf/data.js';
import { ClassicBuilder } from '../src/cbpf/builder.js';
import { assembleClassic } from '../src/cbpf/asm.js';
import { cinsn, MAX_INSNS_PER_PATH, type CInsn } from '../src/cbpf/insn.js';
import { OP } from '../src/cbpf/opcodes.js';
import {
  AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF, MAX_ERRNO,
} from '../src/abi/seccomp.js';
import { compileC, gccAvailable } from './helpers/cprog.js';
import { PROBE_NRS, longFilter, pick, randomArg, randomNearValid, randomValidFilter, rng, valuePool } from './fixtures/cbpf/gen.js';

const SOURCE = fileURLToPath(new URL('./fixtures/cbpf/seccomp-probe.c', import.meta.url));
const EINVAL = 22, ENOMEM = 12, ENOSYS = 38, SIGSYS = 31, SYS_SECCOMP = 1;

function unavailable(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'needs Linux on x86_64';
  if (process.getuid?.() !== 0) return 'needs root, like the other kernel tests';
  if (!gccAvailable()) return 'needs gcc to build the seccomp probe';
  return undefined;
}

let probeBinary: string | undefined;
function probe(mode: string, lines: string[]): string[] {
  probeBinary ??= compileC({ file: SOURCE }, { flags: ['-no-pie'] });
  const r = spawnSync(probeBinary, [], { input: [mode, ...lines, ''].join('\n'), maxBuffer: 1 << 28, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`seccomp-probe ${mode} failed: status ${r.status} ${r.signal ?? ''} ${r.stderr}`);
  const out = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(out.length, Math.max(lines.length, mode === 'ip' ? 1 : 0), `probe answered ${out.length} of ${lines.length} cases`);
  return out;
}

const hexOf = (f: readonly CInsn[]): string => Buffer.from(encodeClassic(f)).toString('hex');
const filterField = (f: readonly CInsn[]): string => `${f.length} ${hexOf(f)}`;

function skipIfUnavailable(t: TestContext): boolean {
  const why = unavailable();
  if (why) t.skip(why);
  return why !== undefined;
}

test('checker: accept/reject agrees with seccomp(2) on every opcode and on generated near-valid filters', (t) => {
  if (skipIfUnavailable(t)) return;
  const cases: CInsn[][] = [];
  // Every 16-bit code whose low byte varies (and some with high bits), as the first of two
  // instructions, with constants that hit each special check.
  const codes = [...Array.from({ length: 0x200 }, (_, i) => i), 0x8000, 0xffff, 0x1006, 0x0120];
  for (const code of codes) {
    for (const k of [0, 1, 4, 32, 64]) cases.push([cinsn(code, k), cinsn(OP.RET_K, SECCOMP_RET_ALLOW)]);
    cases.push([cinsn(code, 0, 1, 0), cinsn(OP.RET_K, 0)]); // jump past the end if a jump
  }
  // Lengths around the limits.
  for (const n of [1, 2, 4095, 4096]) cases.push(longFilter(n));
  cases.push([], [...longFilter(4096), cinsn(OP.RET_K, 0)]);
  const r = rng(0xc0ffee);
  for (let i = 0; i < 2500; i++) cases.push(randomNearValid(r));

  const started = Date.now();
  const kernel = probe('check', cases.map(filterField)).map(Number);
  const ms = Date.now() - started;
  const mismatches: string[] = [];
  let accepted = 0;
  cases.forEach((f, i) => {
    const ours = findClassicProblem(f);
    if (kernel[i] === 0) accepted++;
    if (kernel[i] !== 0 && kernel[i] !== EINVAL) mismatches.push(`case ${i}: kernel errno ${kernel[i]}`);
    if ((ours === undefined) !== (kernel[i] === 0)) {
      mismatches.push(`case ${i}: kernel ${kernel[i] === 0 ? 'accepts' : 'rejects'}, we ${ours ? `reject (${ours.rule} at ${ours.insn}: ${ours.message})` : 'accept'}: ${JSON.stringify(f.slice(0, 8))}`);
    }
  });
  t.diagnostic(`${cases.length} filters, kernel accepted ${accepted}, rejected ${cases.length - accepted}; ${cases.length - mismatches.length} agree; ${ms} ms`);
  assert.deepEqual(mismatches.slice(0, 10), []);
  assert.ok(accepted > 500 && cases.length - accepted > 1000, 'both outcomes well represented');
});

test('checker: the chain limit (32768 converted instructions + 4 per earlier filter) agrees with seccomp(2)', (t) => {
  if (skipIfUnavailable(t)) return;
  // Install chains in order in one child; a refused filter is not attached.
  const attach = (chain: CInsn[][]): number[] => {
    const attached: CInsn[][] = [];
    return chain.map((f) => {
      if (chainInstructionCount([...attached, f]) > MAX_INSNS_PER_PATH) return ENOMEM;
      attached.push(f);
      return 0;
    });
  };
  const big = longFilter(4096); // 4100 instructions once converted
  const chains: CInsn[][][] = [
    Array(8).fill(big),
    [...Array(7).fill(big), longFilter(4036)],
    [...Array(7).fill(big), longFilter(4037)],
    [...Array(7).fill(big), longFilter(1), longFilter(1)],
  ];
  // Random filters placed exactly at the limit and one instruction over it: this pins down
  // the converted length of each (kernelProgramLength) to the instruction.
  const r = rng(0xc4a1);
  for (let i = 0; i < 40; i++) {
    const f = randomValidFilter(r, { maxLen: 300 });
    const pad = 4032 - kernelProgramLength(f);
    chains.push([...Array(7).fill(big), longFilter(pad), f], [...Array(7).fill(big), longFilter(pad + 1), f]);
  }
  const lines = chains.map((c) => `${c.length} ${c.map(filterField).join(' ')}`);
  const kernel = probe('chain', lines).map((l) => l.split(' ').map(Number));
  let agree = 0;
  chains.forEach((c, i) => {
    assert.deepEqual(kernel[i], attach(c), `chain ${i}: ${c.map((f) => f.length).join('+')}`);
    agree++;
  });
  assert.deepEqual(kernel[1], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(kernel[2]![7], ENOMEM);
  t.diagnostic(`${agree} chains agree (${chains.length - 4} pin the converted length of ${(chains.length - 4) / 2} random filters)`);
});

/** What the probe reports for a verdict, given the baseline result of the same syscall. */
function expectedOutcome(ret: number, nr: number, baseline: string): string {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_ALLOW: case SECCOMP_RET_LOG: return `ret ${baseline}`;
    case SECCOMP_RET_ERRNO: return `ret ${-Math.min(data, MAX_ERRNO)}`;
    case SECCOMP_RET_TRAP: return `trap ${data} ${SYS_SECCOMP} ${nr | 0} ${AUDIT_ARCH_X86_64.toString(16)}`;
    case SECCOMP_RET_TRACE: case SECCOMP_RET_USER_NOTIF: return `ret -${ENOSYS}`; // no tracer, no listener
    case SECCOMP_RET_KILL_THREAD: return 'killthread';
    default: return `killprocess ${SIGSYS}`; // KILL_PROCESS and unknown actions
  }
}

/** Splits "ret <value> <baseline>" into the outcome and the baseline. */
function observed(line: string): { outcome: string; baseline: string } {
  const m = /^ret (-?\d+) (-?\d+)$/.exec(line);
  return m ? { outcome: `ret ${m[1]}`, baseline: m[2]! } : { outcome: line, baseline: '?' };
}

test('interpreter: verdicts agree with what the kernel does to real syscalls under generated filters', (t) => {
  if (skipIfUnavailable(t)) return;
  const ip = BigInt(`0x${probe('ip', [])[0]}`);
  const r = rng(0x5ecc0);
  const cases: { filter: CInsn[]; nr: number; args: bigint[] }[] = [];
  for (let i = 0; i < 3000; i++) {
    const pool = valuePool(r);
    pool.push(Number(ip & 0xffff_ffffn), Number(ip >> 32n));
    cases.push({ filter: randomValidFilter(r, { pool }), nr: pick(r, PROBE_NRS), args: Array.from({ length: 6 }, () => randomArg(r, pool)) });
  }
  const started = Date.now();
  const lines = cases.map((c) => `${c.nr.toString(16)} ${c.args.map((a) => a.toString(16)).join(' ')} ${filterField(c.filter)}`);
  const kernel = probe('verdict', lines);
  const ms = Date.now() - started;
  const mismatches: string[] = [];
  const seen = new Map<string, number>();
  cases.forEach((c, i) => {
    const ret = runClassic(c.filter, seccompData({ nr: c.nr, arch: AUDIT_ARCH_X86_64, instructionPointer: ip, args: c.args }));
    const got = observed(kernel[i]!);
    const want = expectedOutcome(ret, c.nr, got.baseline);
    const kind = want.split(' ')[0]!;
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
    if (got.outcome !== want) mismatches.push(`case ${i}: kernel '${kernel[i]}', we 0x${ret.toString(16)} -> '${want}'`);
  });
  t.diagnostic(`${cases.length} cases in ${ms} ms, ${cases.length - mismatches.length} agree; outcomes ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.deepEqual(mismatches.slice(0, 10), []);
  for (const kind of ['ret', 'trap', 'killthread', 'killprocess']) assert.ok((seen.get(kind) ?? 0) > 50, `too few '${kind}' outcomes`);
});

test('a 1000-instruction forward conditional jump built with trampolines runs right in the kernel', (t) => {
  if (skipIfUnavailable(t)) return;
  const b = new ClassicBuilder();
  b.ldAbs(0).jump(OP.JEQ_K, 110, 'far', null).jump(OP.JEQ_K, 39, 'deny', null);
  for (let i = 0; i < 1000; i++) b.ldImm(i);
  b.ret(SECCOMP_RET_ERRNO | 1);
  b.label('far').ldAbs(16).jump(OP.JEQ_K, 5, 'allow', null).ret(SECCOMP_RET_ERRNO | 2);
  b.label('allow').ret(SECCOMP_RET_ALLOW);
  b.label('deny').ret(SECCOMP_RET_ERRNO | 3);
  const f = b.build();
  assert.equal(findClassicProblem(f), undefined);
  assert.ok(f.some((x) => x.code === OP.JA && x.k > 255), 'a JA trampoline was inserted');
  const prog = compileClassic(f);
  const probes = [[110, 5n], [110, 6n], [39, 5n], [102, 0n]] as const;
  const kernel = probe('verdict', probes.map(([nr, a0]) => `${nr.toString(16)} ${a0.toString(16)} 0 0 0 0 0 ${filterField(f)}`));
  const verdicts = probes.map(([nr, a0]) => prog.run(seccompData({ nr, args: [a0] })));
  assert.deepEqual(verdicts, [SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 2, SECCOMP_RET_ERRNO | 3, SECCOMP_RET_ERRNO | 1]);
  kernel.forEach((line, i) => assert.equal(observed(line).outcome, expectedOutcome(verdicts[i]!, probes[i]![0], observed(line).baseline)));
  // The same program written in assembly: refused without trampolines, identical with them.
  const text = ['ld [0]', 'jeq #110, far', 'jeq #39, deny', ...Array.from({ length: 1000 }, (_, i) => `ld #${i}`),
    'ret ERRNO(1)', 'far: ld [16]', 'jeq #5, allow', 'ret ERRNO(2)', 'allow: ret ALLOW', 'deny: ret ERRNO(3)'].join('\n');
  assert.throws(() => assembleClassic(text), { code: 'ERR_CBPF_JUMP_RANGE' });
  assert.deepEqual(assembleClassic(text, { trampolines: true }), f);
});

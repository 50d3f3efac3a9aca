// Differential test: the reference interpreter and the JIT against the kernel's own eBPF (JIT or
// interpreter, whichever the running kernel uses) via BPF_PROG_TEST_RUN. Thousands of seeded
// random programs (test/helpers/progen.ts) run on all three; every register r0..r9 (64-bit, dumped
// into an array map by the program's epilogue), the 64-byte stack scratch area and the
// returned r0 (low 32 bits: retval) must match. Every fourth program also makes bpf-to-bpf
// calls (separate frames and stacks, r6-r9 preserved, r1-r5 clobbered).
//
// Reproduce a failure with SECCOMP_EBPF_SEED=<seed> (printed); program i uses `${seed}/${i}`.
// SECCOMP_EBPF_VM_PROGRAMS overrides the number of programs (default 3000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bpfUnavailableReason, createMap, kernelAccepts, loadProgram, ProgLoadError, type KernelMap } from '../src/sys/bpf.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { compileVm } from '../src/ebpf/vm/jit/index.js';
import type { HostServices, TaskContext } from '../src/ebpf/vm/types.js';
import { BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_DIV, BPF_JMP, BPF_JMP32, BPF_MAP_TYPE_ARRAY, BPF_MOD, BPF_MOV, BPF_STX } from '../src/abi/bpf.js';
import type { Insn } from '../src/ebpf/insn.js';
import {
  I, IO_VALUE_SIZE, OUT_REGS, OUT_STACK, Rng, generateProgram, hexdump, makeArrayMap, prog, withMapFd,
} from './helpers/progen.js';

const SEED = process.env.SECCOMP_EBPF_SEED ?? 'seccomp-ebpf-vm-kernel-1';
const COUNT = Number(process.env.SECCOMP_EBPF_VM_PROGRAMS ?? 3000);

const host: HostServices = {
  monotonicNs: () => 0n, boottimeNs: () => 0n, coarseNs: () => 0n, random32: () => 0, possibleCpus: 1, tracePrintk: () => {},
};
const task: TaskContext = {
  tid: 1, tgid: () => 1, uid: () => 0, gid: () => 0, comm: () => 'vm', cpu: () => 0, leaderKey: () => '1', readMemory: () => -14,
};
const KEY0 = new Uint8Array(4);
const DATA_IN = new Uint8Array(64); // >= ETH_HLEN; the programs never read the packet

/** A key describing the instruction form, for the coverage check. */
function form(x: Insn): string | undefined {
  const cls = x.code & 7;
  const op = x.code & 0xf0;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const variant = op === BPF_DIV || op === BPF_MOD || op === BPF_MOV ? `/off${x.off}` : '';
    return `0x${x.code.toString(16)}${variant}`;
  }
  if (cls === BPF_STX && (x.code & 0xe0) === BPF_ATOMIC) return `0x${x.code.toString(16)}/imm${x.imm}`;
  if (cls === BPF_JMP || cls === BPF_JMP32 || cls <= 3) return `0x${x.code.toString(16)}`;
  return undefined;
}

/** Every form the generator must have produced (cpu v4 ones only when `v4`). */
function expectedForms(v4: boolean): string[] {
  const out: string[] = [];
  for (const cls of [BPF_ALU, BPF_ALU64]) {
    for (const op of [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]) {
      for (const src of [0, 8]) {
        const code = cls | op | src;
        out.push(`0x${code.toString(16)}${op === 0x30 || op === 0x90 || op === 0xb0 ? '/off0' : ''}`);
        if (v4 && (op === 0x30 || op === 0x90)) out.push(`0x${code.toString(16)}/off1`);
      }
    }
    out.push(`0x${(cls | 0x80).toString(16)}`); // neg
    if (v4) for (const bits of cls === BPF_ALU64 ? [8, 16, 32] : [8, 16]) out.push(`0x${(cls | 0xb8).toString(16)}/off${bits}`);
  }
  out.push('0xd4', '0xdc'); // le, be
  if (v4) out.push('0xd7'); // bswap
  for (const cls of [BPF_JMP, BPF_JMP32]) {
    for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) out.push(`0x${(cls | op).toString(16)}`, `0x${(cls | op | 8).toString(16)}`);
  }
  out.push('0x5'); // ja
  if (v4) out.push('0x6'); // gotol
  for (const size of [0x00, 0x08, 0x10, 0x18]) {
    out.push(`0x${(0x61 | size).toString(16)}`, `0x${(0x62 | size).toString(16)}`, `0x${(0x63 | size).toString(16)}`);
    if (v4 && size !== 0x18) out.push(`0x${(0x81 | size).toString(16)}`);
  }
  for (const size of [0x00, 0x18]) {
    for (const imm of [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]) out.push(`0x${(0xc3 | size).toString(16)}/imm${imm}`);
  }
  return out;
}

const hex = (b: bigint): string => `0x${b.toString(16).padStart(16, '0')}`;

const ENGINES = [['interpreter', createVm], ['JIT', compileVm]] as const;

test('interpreter and JIT match the kernel on generated programs', async (t) => {
  const reason = bpfUnavailableReason();
  if (reason !== undefined) { t.skip(reason); return; }

  // cpu v4 (Linux >= 6.6): signed division; without it, generate base programs only.
  const v4 = kernelAccepts(prog(I.mov64K(0, 7), I.mov64K(1, -2), I.alu64X(BPF_DIV, 0, 1, 1), I.exit()));
  t.diagnostic(`seed ${SEED} (override with SECCOMP_EBPF_SEED); ${COUNT} programs; cpu v4 ${v4 ? 'accepted' : 'NOT accepted: base ISA only'}`);

  let kmap: KernelMap;
  try {
    kmap = createMap(BPF_MAP_TYPE_ARRAY, 4, IO_VALUE_SIZE, 1, 0);
  } catch (e) {
    t.skip(`cannot create an array map: ${(e as Error).message}`);
    return;
  }
  const vmap = makeArrayMap(IO_VALUE_SIZE, 1, { name: 'io' });
  const kout = new Uint8Array(IO_VALUE_SIZE);
  const rejected: string[] = [];
  const mismatches: string[] = [];
  const seen = new Set<string>();
  let compared = 0;
  let kernelMs = 0;
  let vmMs = 0;
  let slots = 0;
  try {
    for (let i = 0; i < COUNT; i++) {
      const g = generateProgram(new Rng(`${SEED}/${i}`), { v4, subprograms: i % 4 === 3 });
      for (const x of g.insns) { const f = form(x); if (f) seen.add(f); }
      slots += g.insns.length;

      const k0 = performance.now();
      kmap.update(KEY0, g.input);
      let retval: number;
      try {
        const p = loadProgram(withMapFd(g, kmap.fd));
        try { retval = p.testRun(DATA_IN).retval; } finally { p.close(); }
      } catch (e) {
        if (!(e instanceof ProgLoadError)) throw e;
        rejected.push(`program ${SEED}/${i} rejected (${e.errnoName}):\n${e.log.trim().split('\n').slice(-6).join('\n')}\n${hexdump(g.insns)}`);
        continue;
      }
      assert.ok(kmap.lookup(KEY0, kout));
      const k1 = performance.now();

      const problems: string[] = [];
      const kdv = new DataView(kout.buffer);
      for (const [engine, make] of ENGINES) {
        const v0 = performance.now();
        vmap.storage.set(g.input);
        const r0 = make(g.insns, { maps: [vmap], helpers: new Map(), host }).run(DATA_IN, task);
        vmMs += performance.now() - v0;
        if (retval !== Number(r0 & 0xffff_ffffn)) problems.push(`retval: kernel 0x${retval.toString(16)}, ${engine} ${hex(r0)}`);
        const vdv = new DataView(vmap.storage.buffer);
        for (let r = 0; r < 10; r++) {
          const a = kdv.getBigUint64(OUT_REGS + 8 * r, true), b = vdv.getBigUint64(OUT_REGS + 8 * r, true);
          if (a !== b) problems.push(`r${r}: kernel ${hex(a)}, ${engine} ${hex(b)}`);
        }
        for (let j = 0; j < 8; j++) {
          const a = kdv.getBigUint64(OUT_STACK + 8 * j, true), b = vdv.getBigUint64(OUT_STACK + 8 * j, true);
          if (a !== b) problems.push(`stack [r10${-64 + 8 * j}]: kernel ${hex(a)}, ${engine} ${hex(b)}`);
        }
      }
      kernelMs += k1 - k0;
      compared++;

      if (problems.length > 0 && mismatches.length < 5) {
        const inputs = Array.from({ length: 10 }, (_, r) => `r${r}=${hex(new DataView(g.input.buffer).getBigUint64(8 * r, true))}`).join(' ');
        mismatches.push(`program ${SEED}/${i}: ${problems.join('; ')}\ninputs: ${inputs}\n${hexdump(g.insns)}`);
      } else if (problems.length > 0) {
        mismatches.push(`program ${SEED}/${i}`);
      }
    }
  } finally {
    kmap.close();
  }

  t.diagnostic(`compared ${compared} programs (${slots} slots); kernel load+run ${kernelMs.toFixed(0)} ms, both VMs (compile+run) ${vmMs.toFixed(0)} ms; ` +
    `${rejected.length} rejected by the verifier, ${mismatches.length} mismatches`);
  assert.deepEqual(rejected.slice(0, 1), [], `${rejected.length} generated programs were rejected by the kernel (generator bug)`);
  assert.deepEqual(mismatches.slice(0, 3), [], `${mismatches.length} programs differ between the kernel and a VM`);
  const missing = expectedForms(v4).filter((f) => !seen.has(f));
  assert.deepEqual(missing, [], 'instruction forms never generated');
  assert.equal(compared, COUNT);
});

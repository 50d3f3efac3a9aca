// The series' privilege model (spec.md 3.1-3.8): behaviours 10-28 of spec.md section 8 through
// loadProgram with assembly text, the attach checks, the CLI examples, the helper
// tables and prototypes, and the credentials read from the running system.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import {
  BPF_F_NO_PREALLOC, BPF_FUNC, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_TASK_STORAGE,
} from '../src/abi/bpf.js';
import { hasCode } from '../src/errors.js';
import { assemble } from '../src/ebpf/asm.js';
import { createHelpers } from '../src/ebpf/helpers/index.js';
import type { MapSpec } from '../src/ebpf/maps/types.js';
import { calledHelpers, checkAttach, helpersFor, isVerifiedProgram, loadProgram, type LoadProgramOptions } from '../src/ebpf/verifier/load.js';
import { composeHooks, denyAll, permitAll, yamaPolicy } from '../src/ebpf/verifier/lsm.js';
import {
  allowPtrLeaks, bpfCapable, checkLoadGate, helperTable, insnLimit, perfmonCapable, probeReadVariant,
} from '../src/ebpf/verifier/privilege.js';
import { HELPER, HELPER_PROTOS, proto } from '../src/ebpf/verifier/protos.js';
import type { LoaderCredentials, VerifiedProgram } from '../src/ebpf/verifier/types.js';
import { simulatedTask } from '../src/ebpf/vm/simulated.js';
import type { HelperEnv } from '../src/ebpf/vm/types.js';
import {
  CAPABILITY_NAMES, credentialsFor, currentCredentials, isInitUserNs, kernelLockdown, normalizeCapName, parseCapMask,
  parseLsmOption, systemLsm, yamaPtraceScope,
} from '../src/sys/credentials.js';

// ---------------------------------------------------------------------------------------------
// Loaders and programs

const ALL_CAPS = ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'];
function cred(caps: string[], extra: Partial<LoaderCredentials> = {}): LoaderCredentials {
  return {
    caps: new Set(caps),
    initNsSysPtrace: caps.includes('CAP_SYS_PTRACE'),
    initUserNs: true,
    userNs: 'user:[4026531837]',
    pidNs: 'pid:[4026531836]',
    noNewPrivs: true,
    unprivilegedBpfDisabled: 0,
    ...extra,
  };
}
const UNPRIV = cred([]);
const BPF_ONLY = cred(['CAP_BPF']);
const TRACER = cred(['CAP_BPF', 'CAP_PERFMON']);
const ROOT = cred(ALL_CAPS);
const LOADERS: Array<[string, LoaderCredentials]> = [['unprivileged', UNPRIV], ['CAP_BPF', BPF_ONLY], ['CAP_BPF+CAP_PERFMON', TRACER], ['root', ROOT]];

const ARRAY: MapSpec = { name: 'arr', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 };
const TASK_STORAGE: MapSpec = { name: 'ts', type: BPF_MAP_TYPE_TASK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: BPF_F_NO_PREALLOC };
const DATA: MapSpec = { name: '.data', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, initialValue: new Uint8Array(8) };

type Opts = Partial<LoadProgramOptions>;
function load(text: string, c: LoaderCredentials, opts: Opts = {}): VerifiedProgram {
  return loadProgram(assemble(text), { maps: [], license: 'GPL', cred: c, ...opts });
}
function accepts(text: string, c: LoaderCredentials, opts: Opts = {}): VerifiedProgram {
  return load(text, c, opts);
}
function rejects(text: string, c: LoaderCredentials, code: string, opts: Opts = {}): void {
  assert.throws(() => load(text, c, opts), (e: unknown) => {
    assert.ok(hasCode(e, code), `expected ${code}, got ${String((e as { code?: string }).code)}: ${(e as Error).message}`);
    return true;
  });
}

const RET0 = 'r0 = 0\nexit';
const callOnly = (id: number): string => `call ${id}\n${RET0}`;
const MAP_LOOKUP = `
  r1 = 0
  *(u32 *)(r10 - 4) = r1
  r2 = r10
  r2 += -4
  r1 = map[0] ll
  call 1
  ${RET0}`;
const TRACE_PRINTK = `
  r1 = 0xa6968
  *(u32 *)(r10 - 8) = r1
  r1 = r10
  r1 += -8
  r2 = 4
  call 6
  ${RET0}`;
const probeRead = (id: number): string => `
  r1 = r10
  r1 += -16
  r2 = 16
  r3 = 4096
  call ${id}
  ${RET0}`;
const taskStorageGet = (task: string): string => `
  r1 = map[0] ll
  r2 = ${task}
  r3 = 0
  r4 = 1
  call 156
  ${RET0}`;
const TASK_STORAGE_DELETE = `
  r1 = map[0] ll
  r2 = 0
  call 157
  ${RET0}`;
/** ctx reads, ALU, jumps, stack, constant returns: what restricted mode keeps (behaviour 24). */
const ALMOST_CBPF = `
  r2 = *(u32 *)(r1 + 4)
  if w2 != 0xc000003e goto kill
  r3 = *(u64 *)(r1 + 16)
  *(u64 *)(r10 - 8) = r3
  r0 = *(s32 *)(r1 + 0)
  r4 = *(u64 *)(r10 - 8)
  r4 &= 0xff
  if r0 == 2 goto deny
  r0 = 0x7fff0000
  exit
deny:
  r0 = 0x50001
  r0 += r4
  exit
kill:
  r0 = 0
  exit`;

// ---------------------------------------------------------------------------------------------
// Behaviours 10-20: helpers, maps and privileges (LSM permitting)

describe('verifier: helpers, maps, privileges (spec.md 8, 10-20)', () => {
  test('10: an unprivileged loader may call map_lookup_elem on an array map', () => {
    const p = accepts(MAP_LOOKUP, UNPRIV, { maps: [ARRAY] });
    assert.equal(p.restricted, false);
    assert.ok(p.helperIds.has(BPF_FUNC.map_lookup_elem));
  });

  test('11: trace_printk and get_current_task: rejected unprivileged, accepted with CAP_BPF+CAP_PERFMON', () => {
    rejects(TRACE_PRINTK, UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN');
    rejects(callOnly(35), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN');
    accepts(TRACE_PRINTK, TRACER);
    accepts(callOnly(35), TRACER);
  });

  test('12: CAP_BPF without CAP_PERFMON: jiffies64 accepted, probe_read_kernel and trace_printk rejected', () => {
    accepts(callOnly(118), BPF_ONLY);
    rejects(probeRead(113), BPF_ONLY, 'ERR_VERIFY_HELPER_UNKNOWN');
    rejects(TRACE_PRINTK, BPF_ONLY, 'ERR_VERIFY_HELPER_UNKNOWN');
    // ... and jiffies64 is not for unprivileged loaders; the tracing loader has all three.
    rejects(callOnly(118), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN');
    accepts(probeRead(113), TRACER);
    accepts(callOnly(118), TRACER);
  });

  for (const [name, c] of LOADERS) {
    test(`13: ${name} loader may call uid_gid, pid_tgid, probe_read_user(_str), task_storage_get/delete`, () => {
      accepts(callOnly(15), c);
      accepts(callOnly(14), c);
      accepts(probeRead(112), c);
      accepts(probeRead(114), c);
      accepts(taskStorageGet('0'), c, { maps: [TASK_STORAGE] });
      accepts(TASK_STORAGE_DELETE, c, { maps: [TASK_STORAGE] });
    });
  }

  test('14: a helper in no table (skb_store_bytes, skb_load_bytes, an unknown id) is rejected for everyone', () => {
    for (const [, c] of LOADERS) {
      rejects(callOnly(9), c, 'ERR_VERIFY_HELPER_UNKNOWN');
      rejects(callOnly(26), c, 'ERR_VERIFY_HELPER_UNKNOWN');
      rejects(callOnly(100000), c, 'ERR_VERIFY_HELPER_UNKNOWN');
    }
  });

  test('15: a non-GPL program calling probe_read_user is rejected; GPL-compatible licenses pass', () => {
    for (const [, c] of LOADERS) {
      rejects(probeRead(112), c, 'ERR_VERIFY_GPL', { license: 'Proprietary' });
      rejects(probeRead(114), c, 'ERR_VERIFY_GPL', { license: '' });
    }
    for (const license of ['GPL', 'GPL v2', 'Dual BSD/GPL', 'Dual MIT/GPL']) accepts(probeRead(112), UNPRIV, { license });
    // Helpers that are not GPL-only do not care.
    accepts(callOnly(15), UNPRIV, { license: 'Proprietary' });
  });

  test('16: task_storage_get with a NULL task is accepted, with a non-zero scalar rejected', () => {
    accepts(taskStorageGet('0'), UNPRIV, { maps: [TASK_STORAGE] });
    rejects(taskStorageGet('1'), UNPRIV, 'ERR_VERIFY_HELPER_ARG', { maps: [TASK_STORAGE] });
    rejects(taskStorageGet('1'), ROOT, 'ERR_VERIFY_HELPER_ARG', { maps: [TASK_STORAGE] });
  });

  test('17: a privileged loader may pass a BTF task pointer (get_current_task_btf) to task_storage_get', () => {
    const text = `
      call 158
      r2 = r0
      r1 = map[0] ll
      r3 = 0
      r4 = 0
      call 156
      ${RET0}`;
    const p = accepts(text, TRACER, { maps: [TASK_STORAGE] });
    // get_current_task_btf is not in this runtime: verified, but it cannot run.
    assert.throws(() => helpersFor(p), (e: unknown) => hasCode(e, 'ERR_HELPER_UNSUPPORTED') && /get_current_task_btf/.test((e as Error).message));
    rejects(text, UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN', { maps: [TASK_STORAGE] });
  });

  test('18: unprivileged_bpf_disabled != 0 and no CAP_BPF → EPERM (ERR_LOAD_UNPRIV_DISABLED)', () => {
    for (const v of [1, 2]) {
      rejects(RET0, cred([], { unprivilegedBpfDisabled: v }), 'ERR_LOAD_UNPRIV_DISABLED');
      rejects(RET0, cred(['CAP_PERFMON', 'CAP_SYS_PTRACE'], { unprivilegedBpfDisabled: v }), 'ERR_LOAD_UNPRIV_DISABLED');
      accepts(RET0, cred(['CAP_BPF'], { unprivilegedBpfDisabled: v }));
      accepts(RET0, cred(['CAP_SYS_ADMIN'], { unprivilegedBpfDisabled: v }));
      // CAP_BPF held only in a child user namespace is not bpf_capable().
      rejects(RET0, cred(['CAP_BPF'], { unprivilegedBpfDisabled: v, initUserNs: false }), 'ERR_LOAD_UNPRIV_DISABLED');
    }
    // The gate comes before everything else: even a broken program gets EPERM.
    rejects('r0 = *(u8 *)(r1 + 0)\nexit', cred([], { unprivilegedBpfDisabled: 1 }), 'ERR_LOAD_UNPRIV_DISABLED');
  });

  test('18 (this system): the real kernel.unprivileged_bpf_disabled applies to a simulated unprivileged loader', () => {
    const text = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
    const c = credentialsFor({ unprivileged: true });
    assert.equal(c.unprivilegedBpfDisabled, Number(text));
    if (c.unprivilegedBpfDisabled !== 0) rejects(RET0, c, 'ERR_LOAD_UNPRIV_DISABLED');
    else accepts(RET0, c);
  });

  test('19: RFC loads unprivileged programs; REPO with seccomp_ebpf_priv_only needs CAP_BPF and CAP_PERFMON', () => {
    accepts(RET0, UNPRIV);
    accepts(RET0, UNPRIV, { variant: 'rfc', seccompEbpfPrivOnly: 1 }); // the RFC has no such sysctl
    accepts(RET0, UNPRIV, { variant: 'repo', seccompEbpfPrivOnly: 0 });
    for (const v of [1, 2]) {
      for (const c of [UNPRIV, BPF_ONLY, cred(['CAP_PERFMON']), cred(['CAP_SYS_PTRACE'])]) {
        rejects(RET0, c, 'ERR_LOAD_PRIV_ONLY', { variant: 'repo', seccompEbpfPrivOnly: v });
      }
      accepts(RET0, TRACER, { variant: 'repo', seccompEbpfPrivOnly: v });
      accepts(RET0, cred(['CAP_SYS_ADMIN']), { variant: 'repo', seccompEbpfPrivOnly: v });
    }
  });

  test('20: more than 4096 instructions unprivileged → E2BIG (ERR_VERIFY_TOO_LARGE); privileged up to 1M', () => {
    const prog = (n: number): string => `${'r0 = 0\n'.repeat(n - 1)}exit`;
    accepts(prog(4096), UNPRIV);
    rejects(prog(4097), UNPRIV, 'ERR_VERIFY_TOO_LARGE');
    rejects(prog(4097), cred(['CAP_PERFMON', 'CAP_SYS_PTRACE']), 'ERR_VERIFY_TOO_LARGE');
    accepts(prog(4097), BPF_ONLY);
    accepts(prog(4097), cred(['CAP_SYS_ADMIN']));
    assert.throws(() => loadProgram([], { maps: [], license: 'GPL', cred: ROOT }), (e: unknown) => hasCode(e, 'ERR_LOAD_EMPTY'));
    assert.equal(insnLimit(UNPRIV), 4096);
    assert.equal(insnLimit(BPF_ONLY), 1_000_000);
  });

  test('pointer leaks: only a perfmon_capable loader may return a pointer', () => {
    rejects('r0 = r10\nexit', UNPRIV, 'ERR_VERIFY_RETURN');
    rejects('r0 = r10\nexit', BPF_ONLY, 'ERR_VERIFY_RETURN');
    accepts('r0 = r10\nexit', TRACER);
    assert.equal(allowPtrLeaks(TRACER), true);
    assert.equal(allowPtrLeaks(BPF_ONLY), false);
  });

  test('probe_read_user variant: stock with CAP_SYS_PTRACE in the loader\'s user ns, else dumpable', () => {
    assert.equal(accepts(RET0, UNPRIV).probeReadUser, 'dumpable');
    assert.equal(accepts(RET0, TRACER).probeReadUser, 'dumpable');
    assert.equal(accepts(RET0, cred(['CAP_SYS_PTRACE'])).probeReadUser, 'stock');
    // In a child user ns (spec.md 4.3's worker): own-namespace CAP_SYS_PTRACE counts.
    assert.equal(probeReadVariant(cred(['CAP_SYS_PTRACE'], { initUserNs: false, initNsSysPtrace: false })), 'stock');
    assert.equal(accepts(RET0, ROOT).probeReadUser, 'stock');
  });
});

// ---------------------------------------------------------------------------------------------
// Behaviours 21-28: the LSM hook and Yama

describe('LSM / Yama (spec.md 8, 21-28)', () => {
  test('21: no LSM implements seccomp_extended → full feature set', () => {
    const p = accepts(MAP_LOOKUP, UNPRIV, { maps: [ARRAY] });
    assert.equal(p.restricted, false);
    const q = accepts(MAP_LOOKUP, UNPRIV, { maps: [ARRAY], lsm: permitAll });
    assert.deepEqual([...q.helperIds].sort(), [...p.helperIds].sort());
    assert.equal(systemLsm('rfc', () => undefined), permitAll);
  });

  test('22: hook non-zero → any helper call is rejected, for every loader', () => {
    for (const [, c] of LOADERS) {
      rejects(callOnly(15), c, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: denyAll });
      rejects(MAP_LOOKUP, c, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: denyAll, maps: [ARRAY] });
      rejects(probeRead(112), c, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: denyAll });
    }
  });

  test('23: hook non-zero → reading or writing a global variable is rejected (map access)', () => {
    const read = 'r1 = map_value[0] ll\nr0 = *(u32 *)(r1 + 0)\nexit';
    const write = 'r1 = map_value[0] ll\nr2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit';
    for (const [, c] of LOADERS) {
      rejects(read, c, 'ERR_VERIFY_MAP_ACCESS', { lsm: denyAll, maps: [DATA] });
      rejects(write, c, 'ERR_VERIFY_MAP_ACCESS', { lsm: denyAll, maps: [DATA] });
      accepts(read, c, { maps: [DATA] });
      accepts(write, c, { maps: [DATA] });
    }
  });

  test('24: hook non-zero → ctx reads, ALU, jumps, stack and constant returns are accepted', () => {
    for (const [, c] of LOADERS) {
      const p = accepts(ALMOST_CBPF, c, { lsm: denyAll });
      assert.equal(p.restricted, true);
      assert.equal(p.helperIds.size, 0);
      assert.equal(helpersFor(p).size, 0);
    }
  });

  test('25: ptrace_scope 0 or 1 → full features for every loader', () => {
    for (const scope of [0, 1]) {
      for (const variant of ['rfc', 'repo'] as const) {
        for (const [, c] of LOADERS) {
          const p = accepts(MAP_LOOKUP, c, { lsm: yamaPolicy(scope, variant), maps: [ARRAY], variant });
          assert.equal(p.restricted, false);
        }
      }
    }
  });

  test('26: ptrace_scope 2 → restricted unless CAP_SYS_PTRACE (RFC: own user ns; REPO: initial user ns)', () => {
    const nsPtrace = cred(['CAP_SYS_PTRACE'], { initNsSysPtrace: false, initUserNs: false, userNs: 'user:[4026532000]' });
    const initPtrace = cred(['CAP_SYS_PTRACE']);
    const restricted = (c: LoaderCredentials, variant: 'rfc' | 'repo'): boolean =>
      accepts(ALMOST_CBPF, c, { lsm: yamaPolicy(2, variant), variant }).restricted;
    // RFC.
    assert.equal(restricted(UNPRIV, 'rfc'), true);
    assert.equal(restricted(TRACER, 'rfc'), true);
    assert.equal(restricted(nsPtrace, 'rfc'), false);
    assert.equal(restricted(initPtrace, 'rfc'), false);
    // REPO.
    assert.equal(restricted(UNPRIV, 'repo'), true);
    assert.equal(restricted(nsPtrace, 'repo'), true);
    assert.equal(restricted(initPtrace, 'repo'), false);
    // And the decision shows: a helper call is refused when restricted.
    rejects(callOnly(15), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: yamaPolicy(2) });
    accepts(callOnly(15), nsPtrace, { lsm: yamaPolicy(2) });
  });

  test('27: ptrace_scope 3 (and any other value) → restricted even for root', () => {
    for (const scope of [3, 4, 100, -1]) {
      for (const variant of ['rfc', 'repo'] as const) {
        assert.equal(accepts(ALMOST_CBPF, ROOT, { lsm: yamaPolicy(scope, variant), variant }).restricted, true);
        rejects(callOnly(15), ROOT, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: yamaPolicy(scope, variant), variant });
      }
    }
  });

  test('28: changing ptrace_scope after a load does not change what that program may do', () => {
    let scope: number | undefined = 0;
    const hook = yamaPolicy(() => scope);
    const before = accepts(callOnly(15), UNPRIV, { lsm: hook });
    scope = 3;
    assert.equal(before.restricted, false);
    assert.ok(before.helperIds.has(15));
    assert.ok(helpersFor(before).has(15), 'the loaded program keeps its helpers');
    rejects(callOnly(15), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: hook });
    const after = accepts(ALMOST_CBPF, UNPRIV, { lsm: hook });
    assert.equal(after.restricted, true);
    scope = 0;
    assert.equal(after.restricted, true);
    assert.equal(helpersFor(after).size, 0);
    scope = undefined; // Yama gone: permit
    assert.equal(accepts(callOnly(15), UNPRIV, { lsm: hook }).restricted, false);
  });

  test('the hook is asked exactly once per load, with the loader\'s credentials', () => {
    const seen: LoaderCredentials[] = [];
    accepts(RET0, TRACER, { lsm: (c) => (seen.push(c), 0) });
    assert.equal(seen.length, 1);
    assert.equal(seen[0], TRACER);
  });

  test('stacked LSMs: any non-zero answer restricts', () => {
    assert.equal(composeHooks()(UNPRIV), 0);
    assert.equal(composeHooks(permitAll, permitAll)(UNPRIV), 0);
    assert.notEqual(composeHooks(permitAll, denyAll)(UNPRIV), 0);
    assert.notEqual(composeHooks(yamaPolicy(1), yamaPolicy(2))(UNPRIV), 0);
    assert.equal(composeHooks(yamaPolicy(1), yamaPolicy(2))(cred(['CAP_SYS_PTRACE'])), 0);
    assert.equal(accepts(ALMOST_CBPF, ROOT, { lsm: composeHooks(permitAll, yamaPolicy(3)) }).restricted, true);
  });

  test('a broken hook is an error, not a decision', () => {
    rejects(RET0, UNPRIV, 'ERR_LSM_HOOK', { lsm: () => { throw new Error('boom'); } });
    rejects(RET0, UNPRIV, 'ERR_LSM_HOOK', { lsm: (() => 'no') as unknown as () => number });
    rejects(RET0, UNPRIV, 'ERR_LSM_HOOK', { lsm: () => 0.5 });
  });
});

// ---------------------------------------------------------------------------------------------
// Attach-time checks (spec.md 3.2; behaviours 30 and 36 as checks on credentials)

describe('attach checks', () => {
  const prog = (): VerifiedProgram => accepts(RET0, UNPRIV);

  test('no_new_privs or CAP_SYS_ADMIN in the attacher\'s user ns, else EACCES', () => {
    checkAttach(prog(), cred([], { noNewPrivs: true }));
    checkAttach(prog(), cred(['CAP_SYS_ADMIN'], { noNewPrivs: false }));
    for (const caps of [[], ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']]) {
      assert.throws(() => checkAttach(prog(), cred(caps, { noNewPrivs: false })), (e: unknown) => hasCode(e, 'ERR_ATTACH_EACCES'));
    }
  });

  test('REPO fix (default): loaded in user ns A, attached from user ns B → EPERM, checked before EACCES', () => {
    const other = { userNs: 'user:[4026532999]' };
    assert.throws(() => checkAttach(prog(), cred(ALL_CAPS, other)), (e: unknown) => hasCode(e, 'ERR_ATTACH_USERNS'));
    assert.throws(() => checkAttach(prog(), cred([], { ...other, noNewPrivs: false })), (e: unknown) => hasCode(e, 'ERR_ATTACH_USERNS'));
    // The RFC had no such check (spec.md 4.3's attack works there).
    checkAttach(prog(), cred([], other), { userNsCheck: false });
    assert.throws(() => checkAttach(prog(), cred([], { ...other, noNewPrivs: false }), { userNsCheck: false }), (e: unknown) => hasCode(e, 'ERR_ATTACH_EACCES'));
  });

  test('spec.md 4.3: a child-user-ns loader gets the stock read helper, but the parent cannot attach its program', () => {
    const worker = cred(['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'], { initUserNs: false, initNsSysPtrace: false, userNs: 'user:[4026532500]' });
    const p = accepts(probeRead(114), worker);
    assert.equal(p.probeReadUser, 'stock');
    assert.equal(p.userNs, 'user:[4026532500]');
    const parent = cred([], { userNs: 'user:[4026531837]', noNewPrivs: true });
    assert.throws(() => checkAttach(p, parent), (e: unknown) => hasCode(e, 'ERR_ATTACH_USERNS'));
  });

  test('only programs returned by loadProgram are accepted', () => {
    const p = prog();
    const forged = { ...p } as VerifiedProgram;
    assert.equal(isVerifiedProgram(p), true);
    assert.equal(isVerifiedProgram(forged), false);
    assert.equal(isVerifiedProgram(null), false);
    assert.throws(() => checkAttach(forged, UNPRIV), (e: unknown) => hasCode(e, 'ERR_PROG_NOT_VERIFIED'));
    assert.throws(() => helpersFor(forged), (e: unknown) => hasCode(e, 'ERR_PROG_NOT_VERIFIED'));
  });
});

// ---------------------------------------------------------------------------------------------
// The examples

describe('issue examples (CLI --as-unprivileged, --lsm)', () => {
  test('`call 35` then `r0 = 0`, `exit`: accepted for root, rejected unprivileged', () => {
    accepts(callOnly(35), ROOT);
    rejects(callOnly(35), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN');
    rejects(callOnly(35), credentialsFor({ unprivileged: true, unprivilegedBpfDisabled: 0 }), 'ERR_VERIFY_HELPER_UNKNOWN');
  });

  test('`call 14`: accepted for root and unprivileged, rejected with --lsm deny', () => {
    accepts(callOnly(14), ROOT);
    accepts(callOnly(14), UNPRIV);
    rejects(callOnly(14), ROOT, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: parseLsmOption('deny') });
    rejects(callOnly(14), UNPRIV, 'ERR_VERIFY_HELPER_UNKNOWN', { lsm: parseLsmOption('deny') });
  });

  test('`r0 = *(u32 *)(r1 + 20)`, `exit`: rejected for everyone', () => {
    for (const [, c] of LOADERS) {
      rejects('r0 = *(u32 *)(r1 + 20)\nexit', c, 'ERR_VERIFY_CTX_ACCESS');
      rejects('r0 = *(u32 *)(r1 + 20)\nexit', c, 'ERR_VERIFY_CTX_ACCESS', { lsm: denyAll });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Tables, prototypes and the loadProgram contract

describe('helper tables and prototypes', () => {
  const ids = (c: LoaderCredentials, opts: Parameters<typeof helperTable>[1] = { restricted: false }): Set<number> => new Set(helperTable(c, opts).keys());

  test('capability predicates', () => {
    assert.equal(bpfCapable(UNPRIV), false);
    assert.equal(bpfCapable(BPF_ONLY), true);
    assert.equal(bpfCapable(cred(['CAP_SYS_ADMIN'])), true);
    assert.equal(bpfCapable(cred(['CAP_BPF'], { initUserNs: false })), false);
    assert.equal(perfmonCapable(cred(['CAP_PERFMON'])), true);
    assert.equal(perfmonCapable(cred(['CAP_SYS_ADMIN'])), true);
    assert.equal(perfmonCapable(BPF_ONLY), false);
  });

  test('the unprivileged table is the seccomp overrides plus the base table, nothing else', () => {
    const expected = [
      'get_current_uid_gid', 'get_current_pid_tgid', 'probe_read_user', 'probe_read_user_str', 'task_storage_get', 'task_storage_delete',
      'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'map_push_elem', 'map_pop_elem', 'map_peek_elem', 'get_prandom_u32',
      'get_smp_processor_id', 'get_numa_node_id', 'tail_call', 'ktime_get_ns', 'ktime_get_boot_ns', 'ktime_get_coarse_ns',
      'ringbuf_output', 'ringbuf_reserve', 'ringbuf_submit', 'ringbuf_discard', 'ringbuf_query', 'for_each_map_elem',
    ] as const;
    for (const variant of ['rfc', 'repo'] as const) {
      assert.deepEqual([...ids(UNPRIV, { restricted: false, variant })].sort((a, b) => a - b), expected.map((n) => HELPER[n]).sort((a, b) => a - b));
      // CAP_PERFMON alone (not bpf_capable) changes nothing.
      assert.deepEqual(ids(cred(['CAP_PERFMON', 'CAP_SYS_PTRACE']), { restricted: false, variant }), ids(UNPRIV, { restricted: false, variant }));
    }
  });

  test('CAP_BPF adds spin locks, jiffies64, per-CPU pointers and (REPO only) timers', () => {
    const rfc = ids(BPF_ONLY, { restricted: false, variant: 'rfc' });
    const repo = ids(BPF_ONLY, { restricted: false, variant: 'repo' });
    for (const n of ['spin_lock', 'spin_unlock', 'jiffies64', 'per_cpu_ptr', 'this_cpu_ptr'] as const) {
      assert.ok(rfc.has(HELPER[n]) && repo.has(HELPER[n]), n);
    }
    for (const n of ['timer_init', 'timer_set_callback', 'timer_start', 'timer_cancel'] as const) {
      assert.ok(!rfc.has(HELPER[n]) && repo.has(HELPER[n]), n);
    }
    for (const n of ['trace_printk', 'probe_read_kernel', 'get_current_task', 'get_current_comm'] as const) assert.ok(!repo.has(HELPER[n]), n);
  });

  test('the tracing table: CAP_BPF+CAP_PERFMON; probe_write_user only with CAP_SYS_ADMIN; lockdown', () => {
    const t = ids(TRACER, { restricted: false, variant: 'repo' });
    for (const n of ['trace_printk', 'get_current_task', 'get_current_task_btf', 'get_current_comm', 'probe_read_kernel', 'probe_read',
      'send_signal', 'get_ns_current_pid_tgid', 'task_pt_regs', 'trace_vprintk', 'snprintf', 'timer_init'] as const) {
      assert.ok(t.has(HELPER[n]), n);
    }
    assert.ok(!t.has(HELPER.probe_write_user));
    assert.ok(ids(ROOT).has(HELPER.probe_write_user));
    assert.ok(!ids(ROOT, { restricted: false, lockdown: 'integrity' }).has(HELPER.probe_write_user));
    const conf = ids(ROOT, { restricted: false, lockdown: 'confidentiality' });
    for (const n of ['probe_read_kernel', 'probe_read_kernel_str', 'probe_read', 'probe_read_str', 'probe_write_user'] as const) assert.ok(!conf.has(HELPER[n]), n);
    assert.ok(conf.has(HELPER.probe_read_user), 'the seccomp override is not subject to lockdown');
    // The RFC's older kernel lacks some tracing helpers.
    const rfc = ids(TRACER, { restricted: false, variant: 'rfc' });
    for (const n of ['task_pt_regs', 'trace_vprintk', 'get_func_ip', 'get_branch_snapshot'] as const) assert.ok(!rfc.has(HELPER[n]) && t.has(HELPER[n]), n);
  });

  test('restricted → empty table for everyone', () => {
    for (const [, c] of LOADERS) assert.equal(helperTable(c, { restricted: true }).size, 0);
  });

  test('every helper the runtime implements is in some table, and `implemented` matches createHelpers()', () => {
    const impl = createHelpers();
    const everything = ids(ROOT, { restricted: false, variant: 'repo' });
    for (const id of impl.keys()) {
      assert.ok(HELPER_PROTOS.has(id), `prototype for ${id}`);
      assert.ok(everything.has(id), `helper ${id} reachable by root`);
    }
    for (const [id, p] of HELPER_PROTOS) {
      assert.equal(p.implemented !== false, impl.has(id), `${p.name}: implemented flag`);
      assert.equal(p.id, id);
      assert.equal(p.name, `bpf_${Object.entries(HELPER).find(([, v]) => v === id)![0]}`);
    }
    // Ids agree with the shared ABI table where it has them.
    for (const [name, id] of Object.entries(BPF_FUNC)) assert.equal(HELPER[name as keyof typeof HELPER], id, name);
  });

  test('prototypes carry the kernel\'s GPL flags and argument types', () => {
    for (const n of ['trace_printk', 'probe_read_user', 'probe_read_user_str', 'probe_read_kernel', 'probe_read_kernel_str', 'probe_read',
      'probe_read_str', 'get_current_task', 'get_current_task_btf', 'probe_write_user', 'snprintf'] as const) {
      assert.equal(proto(n).gplOnly, true, n);
    }
    for (const n of ['map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'get_current_pid_tgid', 'get_current_uid_gid', 'get_current_comm',
      'jiffies64', 'ktime_get_ns', 'ringbuf_output', 'task_storage_get', 'task_storage_delete', 'tail_call', 'send_signal'] as const) {
      assert.equal(proto(n).gplOnly, false, n);
    }
    assert.deepEqual(proto('probe_read_user').args, ['ptr_to_uninit_mem', 'const_size_or_zero', 'anything']);
    assert.deepEqual(proto('task_storage_get').args, ['const_map_ptr', 'ptr_to_btf_id_or_null', 'ptr_to_map_value_or_null', 'anything']);
    assert.deepEqual(proto('task_storage_get').mapTypes, [BPF_MAP_TYPE_TASK_STORAGE]);
    assert.ok(proto('ringbuf_reserve').acquires && proto('ringbuf_submit').releases && proto('ringbuf_discard').releases);
    assert.deepEqual(proto('ringbuf_output').mapTypes, [BPF_MAP_TYPE_RINGBUF]);
    assert.ok(proto('map_lookup_elem').mapTypes!.includes(BPF_MAP_TYPE_HASH));
    assert.ok(!proto('map_lookup_elem').mapTypes!.includes(BPF_MAP_TYPE_RINGBUF));
    assert.ok(Object.isFrozen(proto('map_lookup_elem')));
  });

  test('load gate and helper table reject bad input clearly', () => {
    assert.throws(() => checkLoadGate({} as LoaderCredentials), (e: unknown) => hasCode(e, 'ERR_CRED_INVALID'));
    assert.throws(() => helperTable({ ...UNPRIV, caps: ['CAP_BPF'] } as unknown as LoaderCredentials, { restricted: false }), (e: unknown) => hasCode(e, 'ERR_CRED_INVALID'));
    assert.throws(() => helperTable(UNPRIV, { restricted: false, variant: 'x' as 'rfc' }), (e: unknown) => hasCode(e, 'ERR_LOAD_OPTIONS'));
  });
});

describe('loadProgram contract', () => {
  test('the VerifiedProgram records the load-time decisions and cannot be changed', () => {
    const c = cred(['CAP_SYS_PTRACE'], { userNs: 'user:[1]', pidNs: 'pid:[2]' });
    const insns = assemble(MAP_LOOKUP);
    const p = loadProgram(insns, { maps: [ARRAY], license: 'GPL', cred: c, logLevel: 1 });
    assert.equal(p.userNs, 'user:[1]');
    assert.equal(p.pidNs, 'pid:[2]');
    assert.equal(p.probeReadUser, 'stock');
    assert.equal(p.restricted, false);
    assert.deepEqual(p.insns, insns);
    assert.notEqual(p.insns, insns);
    assert.equal(typeof p.stats.insnsProcessed, 'number');
    assert.equal(typeof p.log, 'string');
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.insns) && Object.isFrozen(p.insns[0]) && Object.isFrozen(p.maps));
    insns[0]!.imm = 99; // the caller's array is not the program
    assert.equal(p.insns[0]!.imm, 0);
    assert.throws(() => (p.helperIds as Set<number>).add(6), (e: unknown) => hasCode(e, 'ERR_PROG_READONLY'));
    assert.ok(!p.helperIds.has(6));
    assert.deepEqual(calledHelpers(p.insns), [1]);
  });

  test('helpersFor: the granted implementations, the load-time probe_read_user variant, unsupported helpers refused', () => {
    const unpriv = accepts(probeRead(112), UNPRIV);
    const h = helpersFor(unpriv);
    assert.ok(h.has(112) && h.has(1) && !h.has(6) && !h.has(16));
    assert.notEqual(h.get(112)!.fn, createHelpers({ probeReadUser: 'stock' }).get(112)!.fn);
    assert.equal(h.get(112)!.fn, createHelpers({ probeReadUser: 'dumpable' }).get(112)!.fn);
    const ptrace = helpersFor(accepts(probeRead(112), cred(['CAP_SYS_PTRACE'])));
    assert.equal(ptrace.get(112)!.fn, createHelpers({ probeReadUser: 'stock' }).get(112)!.fn);
    assert.ok(helpersFor(accepts(RET0, TRACER)).has(6));
    for (const id of [35, 118]) {
      const p = accepts(callOnly(id), ROOT);
      assert.throws(() => helpersFor(p), (e: unknown) => hasCode(e, 'ERR_HELPER_UNSUPPORTED'));
    }
  });

  test('get_current_pid_tgid answers in the load-time pid namespace (REPO fix) when the task can tell', () => {
    const p = accepts('call 14\nexit', cred([], { pidNs: 'pid:[4026532777]' }));
    const h = helpersFor(p).get(14)!;
    const run = (task: object): bigint => h.fn({ task } as unknown as HelperEnv, 0n, 0n, 0n, 0n, 0n);
    const global = simulatedTask({ tid: 4321, tgid: 4300 });
    assert.equal(run(global), (4300n << 32n) | 4321n, 'a task that cannot tell: its ids as the supervisor sees them');
    const asked: string[] = [];
    const inNs = Object.assign(simulatedTask({ tid: 4321, tgid: 4300 }), {
      idsInPidNs: (ns: string) => (asked.push(ns), ns === 'pid:[4026532777]' ? { tgid: 1, pid: 2 } : undefined),
    });
    assert.equal(run(inNs), (1n << 32n) | 2n);
    assert.deepEqual(asked, ['pid:[4026532777]']);
    const invisible = Object.assign(simulatedTask({ tid: 4321 }), { idsInPidNs: () => undefined });
    assert.equal(run(invisible), 0n, 'not visible in the loader\'s namespace');
  });

  test('bad options are clear errors', () => {
    const good = { maps: [], license: 'GPL', cred: UNPRIV };
    const insns = assemble(RET0);
    const bad: Array<[unknown, unknown, string]> = [
      ['x', good, 'ERR_LOAD_OPTIONS'],
      [insns, null, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, bogus: 1 }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, maps: 'x' }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, license: 3 }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, variant: 'v6' }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, logLevel: 7 }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, lsm: 'deny' }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, lockdown: 'full' }, 'ERR_LOAD_OPTIONS'],
      [insns, { ...good, cred: undefined }, 'ERR_CRED_INVALID'],
      [insns, { ...good, cred: { ...UNPRIV, caps: ['CAP_BPF'] } }, 'ERR_CRED_INVALID'],
      [insns, { ...good, cred: { ...UNPRIV, userNs: 5 } }, 'ERR_CRED_INVALID'],
      [insns, { ...good, cred: { ...UNPRIV, unprivilegedBpfDisabled: '0' } }, 'ERR_CRED_INVALID'],
    ];
    for (const [i, o, code] of bad) {
      assert.throws(() => loadProgram(i as never, o as never), (e: unknown) => hasCode(e, code), JSON.stringify(o, (_k, v) => (v instanceof Set ? [...v] : v)));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Credentials from the running system and from the command line

describe('credentials (src/sys/credentials.ts)', () => {
  test('currentCredentials matches /proc/self/status and the namespace links', () => {
    const c = currentCredentials();
    const status = readFileSync('/proc/self/status', 'utf8');
    const capEff = /^CapEff:\s*(\S+)/m.exec(status)![1]!;
    assert.deepEqual([...c.caps].sort(), [...parseCapMask(capEff)].sort());
    assert.equal(c.noNewPrivs, /^NoNewPrivs:\s*1/m.test(status));
    assert.equal(c.userNs, readlinkSync('/proc/self/ns/user'));
    assert.equal(c.pidNs, readlinkSync('/proc/self/ns/pid'));
    assert.equal(c.initNsSysPtrace, c.initUserNs === true && c.caps.has('CAP_SYS_PTRACE'));
    const sysctl = existsSync('/proc/sys/kernel/unprivileged_bpf_disabled') ? Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8')) : 0;
    assert.equal(c.unprivilegedBpfDisabled, sysctl);
  });

  test('capability masks decode like capsh --decode', (t) => {
    let capsh = true;
    try {
      execFileSync('capsh', ['--decode=1'], { stdio: 'ignore' });
    } catch {
      capsh = false;
    }
    if (!capsh) return t.skip('capsh (libcap2-bin) is not installed');
    for (const mask of ['0', '1', '80000', '200000', '4000000000', '8000000000', 'c000280000', '1ffffffffff', '000001fffeffffff']) {
      const out = execFileSync('capsh', [`--decode=${mask}`], { encoding: 'utf8' });
      const theirs = out.replace(/^.*=/, '').trim().split(',').filter(Boolean).map((n) => n.toUpperCase()).sort();
      assert.deepEqual([...parseCapMask(mask)].sort(), theirs, mask);
    }
    assert.equal(CAPABILITY_NAMES[19], 'CAP_SYS_PTRACE');
    assert.equal(CAPABILITY_NAMES[21], 'CAP_SYS_ADMIN');
    assert.equal(CAPABILITY_NAMES[38], 'CAP_PERFMON');
    assert.equal(CAPABILITY_NAMES[39], 'CAP_BPF');
    assert.throws(() => parseCapMask('xyz'), (e: unknown) => hasCode(e, 'ERR_CRED_READ'));
  });

  test('the initial user namespace is recognised; a new user namespace is not it', (t) => {
    assert.equal(isInitUserNs('user:[4026531837]'), true);
    const r = spawnSync('unshare', ['--user', 'readlink', '/proc/self/ns/user'], { encoding: 'utf8' });
    if (r.status !== 0) return t.skip(`cannot create a user namespace here: ${r.stderr.trim()}`);
    const link = r.stdout.trim();
    assert.match(link, /^user:\[\d+\]$/);
    assert.equal(isInitUserNs(link), false);
    assert.equal(currentCredentials().initUserNs, isInitUserNs(readlinkSync('/proc/self/ns/user')));
  });

  test('--caps and --as-unprivileged', () => {
    const base = cred(ALL_CAPS, { noNewPrivs: false, unprivilegedBpfDisabled: 2 });
    assert.deepEqual(credentialsFor({}, base).caps, base.caps);
    const u = credentialsFor({ unprivileged: true }, base);
    assert.equal(u.caps.size, 0);
    assert.equal(u.initNsSysPtrace, false);
    assert.equal(u.unprivilegedBpfDisabled, 2);
    assert.equal(u.userNs, base.userNs);
    const c = credentialsFor({ caps: ['bpf', 'CAP_PERFMON', 'cap_Sys_Ptrace'] }, base);
    assert.deepEqual([...c.caps].sort(), ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']);
    assert.equal(c.initNsSysPtrace, true);
    assert.equal(credentialsFor({ caps: ['sys_ptrace'] }, { ...base, initUserNs: false }).initNsSysPtrace, false);
    assert.equal(credentialsFor({ unprivileged: true, unprivilegedBpfDisabled: 0, noNewPrivs: true }, base).unprivilegedBpfDisabled, 0);
    assert.equal(normalizeCapName(' perfmon '), 'CAP_PERFMON');
    for (const bad of ['CAP_FOO', 'bpff', '', 'CAP_']) {
      assert.throws(() => credentialsFor({ caps: [bad] }, base), (e: unknown) => hasCode(e, 'ERR_CAPS_UNKNOWN'), bad);
    }
  });

  test('--lsm deny|permit|yama:N', () => {
    assert.equal(parseLsmOption('permit'), permitAll);
    assert.notEqual(parseLsmOption('deny')(ROOT), 0);
    assert.equal(parseLsmOption('yama:1')(UNPRIV), 0);
    assert.notEqual(parseLsmOption('yama:2')(UNPRIV), 0);
    assert.equal(parseLsmOption('yama:2')(cred(['CAP_SYS_PTRACE'], { initNsSysPtrace: false })), 0);
    assert.notEqual(parseLsmOption('yama:2', 'repo')(cred(['CAP_SYS_PTRACE'], { initNsSysPtrace: false })), 0);
    assert.notEqual(parseLsmOption('YAMA:3')(ROOT), 0);
    for (const bad of ['yama', 'yama:', 'yama:x', 'allow', 'yama:1.5']) {
      assert.throws(() => parseLsmOption(bad), (e: unknown) => hasCode(e, 'ERR_LSM_OPTION'), bad);
    }
  });

  test('Yama and lockdown as this kernel has them; the system hook follows the live sysctl', () => {
    const yamaPath = '/proc/sys/kernel/yama/ptrace_scope';
    assert.equal(yamaPtraceScope(), existsSync(yamaPath) ? Number(readFileSync(yamaPath, 'utf8')) : undefined);
    if (!existsSync(yamaPath)) assert.equal(systemLsm(), permitAll);
    const lockdownPath = '/sys/kernel/security/lockdown';
    if (!existsSync(lockdownPath)) assert.equal(kernelLockdown(), 'none');
    assert.equal(kernelLockdown(() => 'none [integrity] confidentiality\n'), 'integrity');
    let value: string | undefined = '2\n';
    const read = (p: string): string | undefined => (p === yamaPath ? value : undefined);
    const hook = systemLsm('rfc', read);
    assert.notEqual(hook(UNPRIV), 0);
    value = '1\n';
    assert.equal(hook(UNPRIV), 0);
    value = '3\n';
    assert.notEqual(hook(ROOT), 0);
  });
});

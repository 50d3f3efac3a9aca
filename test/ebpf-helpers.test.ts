// Each helper (src/ebpf/helpers) run through a small fake VmMemory and the simulated task and
// host: return values, memory written, error paths and trace_printk formatting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_NO_PREALLOC,
  BPF_FUNC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_TASK_STORAGE,
  BPF_NOEXIST,
} from '../src/abi/bpf.js';
import { hasCode } from '../src/errors.js';
import { createHelpers, discardOutstandingRecords, helperName, USER_ADDR_LIMIT } from '../src/ebpf/helpers/index.js';
import { createMap, type LiveMap, type MapSpec, type RingBufMap } from '../src/ebpf/maps/index.js';
import { E2BIG, EEXIST, EFAULT, EINVAL, ENOENT, EPERM } from '../src/ebpf/maps/errno.js';
import { simulatedHost, simulatedTask, type SimulatedHost, type SimulatedTask } from '../src/ebpf/vm/simulated.js';
import { mapHandle, type HelperEnv, type TaskContext, type VmMemory } from '../src/ebpf/vm/types.js';

class FakeFault extends Error {}

interface Region {
  base: bigint;
  bytes: Uint8Array;
  writable: boolean;
}

/** A VmMemory of a few regions with bounds and permission checks. */
class FakeMemory implements VmMemory {
  regions: Region[] = [];
  private nextPtr = 0xffff_9000_0000_0000n;

  add(base: bigint, bytes: Uint8Array, writable = true): bigint {
    this.regions.push({ base, bytes, writable });
    return base;
  }
  slice(addr: bigint, len: number, write: boolean): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    for (const r of this.regions) {
      if (addr >= r.base && addr + BigInt(len) <= r.base + BigInt(r.bytes.length)) {
        if (write && !r.writable) throw new FakeFault(`write to read-only 0x${addr.toString(16)}`);
        const off = Number(addr - r.base);
        return r.bytes.subarray(off, off + len);
      }
    }
    throw new FakeFault(`bad access 0x${addr.toString(16)}+${len}`);
  }
  pointerTo(view: Uint8Array, writable: boolean): bigint {
    const same = this.regions.find((r) => r.bytes.buffer === view.buffer && r.bytes.byteOffset === view.byteOffset && r.bytes.length === view.length);
    if (same) return same.base;
    const base = this.nextPtr;
    this.nextPtr += 0x1_0000n;
    return this.add(base, view, writable);
  }
  release(addr: bigint): void {
    this.regions = this.regions.filter((r) => r.base !== addr);
  }
}

const STACK = 0xff00_0000_0000_0000n; // above the user address limit, like a kernel address
const helpers = createHelpers();
const ret = (n: number): bigint => BigInt.asUintN(64, BigInt(n));

interface Env extends HelperEnv {
  mem: FakeMemory;
  task: SimulatedTask;
  host: SimulatedHost;
  stack: Uint8Array;
  data: Uint8Array;
}
const DATA = STACK + 0x10000n;

function makeEnv(maps: LiveMap[] = [], task: TaskContext = simulatedTask({ tid: 43, tgid: 42, uid: 1000, gid: 100, comm: 'worker', cpu: 1 })): Env {
  const mem = new FakeMemory();
  const stack = new Uint8Array(512);
  mem.add(STACK, stack);
  const data = new Uint8Array(4096);
  mem.add(DATA, data);
  return {
    mem,
    stack,
    data,
    task: task as SimulatedTask,
    host: simulatedHost({ possibleCpus: 2, startNs: 5000n, stepNs: 10n, suspendedNs: 7n, seed: 3 }),
    map(handle: bigint): LiveMap {
      const m = maps[Number(handle - mapHandle(0))];
      if (!m) throw new FakeFault(`bad map handle ${handle}`);
      return m;
    },
  };
}

function call(env: HelperEnv, id: number, ...args: bigint[]): bigint {
  const h = helpers.get(id);
  assert.ok(h, `helper ${id}`);
  const [r1 = 0n, r2 = 0n, r3 = 0n, r4 = 0n, r5 = 0n] = args;
  return h.fn(env, r1, r2, r3, r4, r5);
}

const put = (env: Env, off: number, bytes: ArrayLike<number>): bigint => {
  env.stack.set(bytes, off);
  return STACK + BigInt(off);
};
const putStr = (env: Env, off: number, s: string): bigint => put(env, off, [...new TextEncoder().encode(s), 0]);
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const le64 = (n: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const rd64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
const mapSpec = (type: number, keySize: number, valueSize: number, maxEntries: number, extra: Partial<MapSpec> = {}): MapSpec => ({
  name: 'm',
  type,
  keySize,
  valueSize,
  maxEntries,
  flags: 0,
  ...extra,
});
const throwsCode = (fn: () => unknown, code: string): void => {
  assert.throws(fn, (e: unknown) => hasCode(e, code));
};

describe('helper table', () => {
  it('names helpers like the kernel', () => {
    assert.equal(helperName(BPF_FUNC.map_lookup_elem), 'bpf_map_lookup_elem');
    assert.equal(helperName(BPF_FUNC.probe_read_user_str), 'bpf_probe_read_user_str');
    assert.equal(helperName(9999), 'unknown#9999');
    for (const [id, def] of helpers) {
      assert.equal(def.id, id);
      assert.equal(def.name, helperName(id));
    }
  });
  it('has the brief’s helpers and no unimplemented ones', () => {
    const want = [
      'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'ktime_get_ns', 'ktime_get_boot_ns', 'ktime_get_coarse_ns',
      'get_prandom_u32', 'get_smp_processor_id', 'get_numa_node_id', 'get_current_pid_tgid', 'get_current_uid_gid',
      'get_current_comm', 'trace_printk', 'probe_read_user', 'probe_read_user_str', 'ringbuf_output', 'ringbuf_reserve',
      'ringbuf_submit', 'ringbuf_discard', 'ringbuf_query', 'task_storage_get', 'task_storage_delete',
    ] as const;
    for (const n of want) assert.ok(helpers.has(BPF_FUNC[n]), n);
    for (const n of ['tail_call', 'get_current_task', 'get_current_task_btf'] as const) assert.ok(!helpers.has(BPF_FUNC[n]), n);
  });
  it('refuses unknown options', () => {
    throwsCode(() => createHelpers({ probeReadUser: 'other' as never }), 'ERR_HELPER_OPTIONS');
    throwsCode(() => createHelpers({ x: 1 } as never), 'ERR_HELPER_OPTIONS');
  });
});

describe('map helpers', () => {
  it('map_lookup_elem returns a pointer that aliases the value, or NULL', () => {
    const h = createMap(mapSpec(BPF_MAP_TYPE_HASH, 4, 8, 4), { possibleCpus: 2 });
    h.update(Uint8Array.of(1, 0, 0, 0), Uint8Array.from(le64(77n)), BPF_ANY);
    const env = makeEnv([h]);
    const key = put(env, 0, le32(1));
    const p = call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), key);
    assert.notEqual(p, 0n);
    assert.equal(rd64(env.mem.slice(p, 8, false)), 77n);
    env.mem.slice(p, 8, true)[0] = 78;
    assert.equal(rd64(h.lookup(Uint8Array.of(1, 0, 0, 0))!), 78n, 'write through the pointer');
    assert.equal(call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), key), p, 'same value, same pointer');
    assert.equal(call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), put(env, 8, le32(2))), 0n);
  });
  it('map_lookup_elem uses the running CPU for per-CPU maps', () => {
    const m = createMap(mapSpec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1), { possibleCpus: 2 });
    m.update(Uint8Array.of(0, 0, 0, 0), Uint8Array.from([...le64(10n), ...le64(11n)]), BPF_ANY);
    const env = makeEnv([m]);
    const p = call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), put(env, 0, le32(0)));
    assert.equal(rd64(env.mem.slice(p, 8, false)), 11n, 'task is on cpu 1');
  });
  it('map_lookup_elem refreshes LRU recency (a bpf(2) lookup does not)', () => {
    const lru = createMap(mapSpec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 2), { possibleCpus: 2 });
    const k = (n: number): Uint8Array => Uint8Array.of(n, 0, 0, 0);
    lru.update(k(1), new Uint8Array(8), BPF_ANY);
    lru.update(k(2), new Uint8Array(8), BPF_ANY);
    const env = makeEnv([lru]);
    assert.notEqual(call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), put(env, 0, le32(1))), 0n);
    lru.lookup(k(2));
    lru.update(k(3), new Uint8Array(8), BPF_ANY);
    assert.deepEqual(lru.keys().map((x) => x[0]).sort(), [1, 3]);
  });
  it('read-only maps give read-only pointers and refuse writes', () => {
    const ro = createMap(mapSpec(BPF_MAP_TYPE_ARRAY, 4, 8, 1, { name: '.rodata', readOnly: true, initialValue: Uint8Array.of(5) }), { possibleCpus: 2 });
    const env = makeEnv([ro]);
    const key = put(env, 0, le32(0));
    const p = call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), key);
    assert.equal(env.mem.slice(p, 1, false)[0], 5);
    assert.throws(() => env.mem.slice(p, 1, true), FakeFault);
    assert.equal(call(env, BPF_FUNC.map_update_elem, mapHandle(0), key, put(env, 8, le64(1n)), 0n), ret(-EPERM));
    assert.equal(call(env, BPF_FUNC.map_delete_elem, mapHandle(0), key), ret(-EPERM));
  });
  it('map_update_elem and map_delete_elem return the map’s codes', () => {
    const h = createMap(mapSpec(BPF_MAP_TYPE_HASH, 4, 8, 1), { possibleCpus: 2 });
    const env = makeEnv([h]);
    const k1 = put(env, 0, le32(1));
    const k2 = put(env, 4, le32(2));
    const v = put(env, 8, le64(5n));
    const upd = (k: bigint, flags: bigint): bigint => call(env, BPF_FUNC.map_update_elem, mapHandle(0), k, v, flags);
    assert.equal(upd(k1, BigInt(BPF_EXIST)), ret(-ENOENT));
    assert.equal(upd(k1, BigInt(BPF_NOEXIST)), 0n);
    assert.equal(upd(k1, BigInt(BPF_NOEXIST)), ret(-EEXIST));
    assert.equal(upd(k2, BigInt(BPF_ANY)), ret(-E2BIG));
    assert.equal(upd(k1, 1n << 32n), ret(-EINVAL), 'flags beyond 32 bits');
    assert.equal(upd(k1, 4n), ret(-EINVAL), 'BPF_F_LOCK');
    assert.equal(rd64(h.lookup(Uint8Array.of(1, 0, 0, 0))!), 5n);
    assert.equal(call(env, BPF_FUNC.map_delete_elem, mapHandle(0), k2), ret(-ENOENT));
    assert.equal(call(env, BPF_FUNC.map_delete_elem, mapHandle(0), k1), 0n);
    h.freeze();
    assert.equal(upd(k1, 0n), 0n, 'a frozen map stays writable for the program');
    const arr = createMap(mapSpec(BPF_MAP_TYPE_ARRAY, 4, 8, 1), { possibleCpus: 2 });
    const env2 = makeEnv([arr]);
    assert.equal(call(env2, BPF_FUNC.map_delete_elem, mapHandle(0), put(env2, 0, le32(0))), ret(-EINVAL));
  });
  it('bad pointers fault and wrong map types throw', () => {
    const h = createMap(mapSpec(BPF_MAP_TYPE_HASH, 4, 8, 1), { possibleCpus: 2 });
    const rb = createMap(mapSpec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), { possibleCpus: 2 });
    const env = makeEnv([h, rb]);
    assert.throws(() => call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), 0x1000n), FakeFault);
    assert.throws(() => call(env, BPF_FUNC.map_lookup_elem, mapHandle(0), STACK + 510n), FakeFault, 'key straddles the end');
    assert.throws(() => call(env, BPF_FUNC.map_update_elem, mapHandle(0), STACK, 0n, 0n), FakeFault, 'NULL value');
    throwsCode(() => call(env, BPF_FUNC.map_lookup_elem, mapHandle(1), STACK), 'ERR_HELPER_MAP_TYPE');
    throwsCode(() => call(env, BPF_FUNC.ringbuf_output, mapHandle(0), STACK, 1n, 0n), 'ERR_HELPER_MAP_TYPE');
    throwsCode(() => call(env, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, 0n), 'ERR_HELPER_MAP_TYPE');
  });
});

describe('time, random and identity helpers', () => {
  it('read the host clocks and random source', () => {
    const env = makeEnv();
    assert.equal(call(env, BPF_FUNC.ktime_get_ns), 5000n);
    assert.equal(call(env, BPF_FUNC.ktime_get_boot_ns), 5017n, 'monotonic + suspended');
    assert.equal(call(env, BPF_FUNC.ktime_get_coarse_ns), 0n, 'truncated to a 4 ms tick');
    const ref = simulatedHost({ seed: 3 });
    const seq = [ref.random32(), ref.random32(), ref.random32()];
    assert.deepEqual([0, 1, 2].map(() => call(env, BPF_FUNC.get_prandom_u32)), seq.map(BigInt));
    assert.ok(seq.every((x) => x >= 0 && x <= 0xffffffff) && new Set(seq).size === 3);
  });
  it('report the task', () => {
    const env = makeEnv();
    assert.equal(call(env, BPF_FUNC.get_current_pid_tgid), (42n << 32n) | 43n);
    assert.equal(call(env, BPF_FUNC.get_current_uid_gid), (100n << 32n) | 1000n);
    assert.equal(call(env, BPF_FUNC.get_smp_processor_id), 1n);
    assert.equal(call(env, BPF_FUNC.get_numa_node_id), 0n);
    const big = makeEnv([], simulatedTask({ tid: 0x7fffffff, tgid: 0x7ffffffe, uid: 0xfffffffe, gid: 0xffffffff }));
    assert.equal(call(big, BPF_FUNC.get_current_pid_tgid), (0x7ffffffen << 32n) | 0x7fffffffn);
    assert.equal(call(big, BPF_FUNC.get_current_uid_gid), (0xffffffffn << 32n) | 0xfffffffen);
  });
  it('get_current_comm copies at most size - 1 bytes, a NUL and zero fill', () => {
    const env = makeEnv([], simulatedTask({ comm: 'a-very-long-thread-name' }));
    const cases: Array<[number, string]> = [
      [32, 'a-very-long-thr'], // TASK_COMM_LEN - 1 = 15 bytes
      [16, 'a-very-long-thr'],
      [4, 'a-v'],
      [1, ''],
    ];
    for (const [size, want] of cases) {
      env.stack.fill(0xff);
      assert.equal(call(env, BPF_FUNC.get_current_comm, STACK, BigInt(size)), 0n);
      const got = env.stack.subarray(0, size);
      assert.equal(new TextDecoder().decode(got.subarray(0, want.length)), want, `size ${size}`);
      assert.ok(got.subarray(want.length).every((b) => b === 0), `NUL and zero fill, size ${size}`);
      assert.equal(env.stack[size], 0xff, `nothing past size ${size}`);
    }
    env.stack.fill(0xff);
    assert.equal(call(env, BPF_FUNC.get_current_comm, STACK, 0n), 0n);
    assert.equal(env.stack[0], 0xff);
    assert.throws(() => call(env, BPF_FUNC.get_current_comm, STACK + 500n, 16n), FakeFault);
  });
});

type PrintkArg = bigint | number | string | number[];
function printk(fmt: string, args: PrintkArg[] = [], opts: { fmtSize?: number; task?: SimulatedTask } = {}): { r: bigint; lines: string[] } {
  const env = makeEnv([], opts.task);
  const bytes = [...Buffer.from(fmt, 'latin1'), 0];
  const f = put(env, 0, bytes);
  let at = 0;
  const regs = args.map((a) => {
    if (typeof a === 'string' || Array.isArray(a)) {
      const bytes = typeof a === 'string' ? [...new TextEncoder().encode(a), 0] : a;
      env.data.set(bytes, at);
      at += bytes.length;
      return DATA + BigInt(at - bytes.length);
    }
    return BigInt.asUintN(64, BigInt(a));
  });
  const r = call(env, BPF_FUNC.trace_printk, f, BigInt(opts.fmtSize ?? bytes.length), ...regs);
  return { r, lines: env.host.lines };
}
const PRINTK_OK: Array<[string, PrintkArg[], string]> = [
  ['hello %d\n', [-5], 'hello -5\n'],
  ['%i|%u', [-1, -1], '-1|4294967295'],
  ['%d', [0x1_0000_0005n], '5'],
  ['%x %X', [0xabcdef, 0xabcdef], 'abcdef ABCDEF'],
  ['%ld %lu', [-1n, -1n], '-1 18446744073709551615'],
  ['%lld %llx %llX', [-9223372036854775808n, 0xdeadbeefcafen, 0xdeadbeefcafen], '-9223372036854775808 deadbeefcafe DEADBEEFCAFE'],
  ['%5d|%-5d|%05d', [42, 42, 42], '   42|42   |00042'],
  ['%+d|% d|%05d', [5, 5, -42], '+5| 5|-0042'],
  ['%-05d|%+u|%08x', [7, 7, 0xbeef], '7    |7|0000beef'],
  ['%c%c%3c', [0x61, 0x162, 0x63], 'abb  c'.replace('bb', 'b')],
  ['%-3c|', [0x61], 'a  |'],
  ['%s!', ['world'], 'world!'],
  ['[%8s][%-8s]', ['ab', 'cd'], '[      ab][cd      ]'],
  ['%s.', [0x1000], '.'],
  ['%pks %s', ['k', 'x'], 'k x'],
  ['%p', [0x1234], '0000000000001234'],
  ['%px %pK', [0xffff_8880_0000_1000n, 1], 'ffff888000001000 0000000000000001'],
  ['%ps %pS %pB', [0x10, 0x20, 0x30], '0x10 0x20 0x30'],
  ['%pI4 %pi4', [[192, 168, 0, 1], [10, 0, 0, 1]], '192.168.0.1 010.000.000.001'],
  ['%pI6', [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]], '2001:0db8:0000:0000:0000:0000:0000:0001'],
  ['%pi6', [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]], '20010db8000000000000000000000001'],
  ['%pI4', [0x1000], '0.0.0.0'],
  ['100%% %d%%', [3], '100% 3%'],
  ['tab\there', [], 'tab\there'],
  ['caf\xe9', [], 'caf\ufffd'], // bytes >= 0x80 are allowed; the line is decoded as UTF-8
  ['%pKabc|%pI4x.', [1, [1, 2, 3, 4]], '0000000000000001|1.2.3.4.'],
  ['%10pS|%-6pB|%6pI4|', [0x10, 0x20, [1, 2, 3, 4]], '      0x10|0x20|1.2.3.4|'],
  ['%6pks|%6s|', ['k', 's'], 'k|     s|'],
];
const PRINTK_BAD: Array<[string, string, PrintkArg[]]> = [
  ['four conversions', '%d %d %d %d', [1, 2, 3]],
  ['unknown conversion', '%q', [1]],
  ['precision', '%.3d', [1]],
  ['# flag', '%#x', [1]],
  ['h modifier', '%hd', [1]],
  ['z modifier', '%zu', [1]],
  ['lll', '%llld', [1]],
  ['%s followed by a letter', '%sx', ['a']],
  ['unknown %p extension', '%pZ', [1]],
  ['%pI5', '%pI5', [1]],
  ['trailing %', 'abc%', []],
  ['non-printable byte', 'a\x01b', []],
  ['DEL', 'a\x7fb', []],
];

describe('trace_printk', () => {
  // Runs trace_printk(fmt, args); string and byte-array args are placed in the data region.
  for (const [fmt, args, want] of PRINTK_OK) {
    it(`formats ${JSON.stringify(fmt)}`, () => {
      const { r, lines } = printk(fmt, args);
      assert.equal(r, BigInt(want.length), 'returns the byte count');
      assert.deepEqual(lines, [want.endsWith('\n') ? want.slice(0, -1) : want]);
    });
  }
  for (const [name, fmt, args] of PRINTK_BAD) {
    it(`refuses ${name} with -EINVAL`, () => {
      const { r, lines } = printk(fmt, args);
      assert.equal(r, ret(-EINVAL));
      assert.deepEqual(lines, []);
    });
  }
  it('needs a NUL within fmt_size', () => {
    assert.equal(printk('abc', [], { fmtSize: 3 }).r, ret(-EINVAL));
    assert.equal(printk('abc', [], { fmtSize: 0 }).r, ret(-EINVAL));
    assert.deepEqual(printk('ab\0cd', [], { fmtSize: 6 }).lines, ['ab'], 'stops at the first NUL');
  });
  it('reads %pus from the task and %s from program memory only', () => {
    const task = simulatedTask({ memory: [{ addr: 0x5000n, bytes: new TextEncoder().encode('user!\0') }] });
    assert.deepEqual(printk('%pus|%s|', [0x5000, 0x5000], { task }).lines, ['user!||']);
  });
  it('shares a 512-byte staging buffer among strings', () => {
    const s300 = 'a'.repeat(300);
    const two = printk('%s%s', [s300, 'b'.repeat(300)]);
    // 301 bytes for the first; the second gets the remaining 211 (210 chars + NUL).
    assert.equal(two.r, 510n);
    assert.equal(two.lines[0], s300 + 'b'.repeat(210));
    assert.equal(printk('%s%s%s', [s300, s300, 'c']).r, ret(-28), '-ENOSPC once it is full');
  });
  it('cuts the output at 1023 bytes but returns the full length', () => {
    const { r, lines } = printk('%900d%200d', [1, 2]);
    assert.equal(r, 1100n);
    assert.equal(lines[0]!.length, 1023);
    assert.ok(lines[0]!.endsWith(' '.repeat(123)));
  });
  it('faults on a bad fmt pointer', () => {
    const env = makeEnv();
    assert.throws(() => call(env, BPF_FUNC.trace_printk, 0x10n, 4n), FakeFault);
  });
});

describe('probe_read helpers', () => {
  const PAGE = 0x10000n;
  const userMem = (): SimulatedTask => {
    const page = new Uint8Array(4096).map((_, i) => (i * 7 + 1) & 0xff || 1);
    page.set(new TextEncoder().encode('abc\0'), 0);
    page.set(new TextEncoder().encode('xyz\0'), 4092); // string ending at the end of the mapping
    const noNul = new Uint8Array(4096).fill(0x41);
    return simulatedTask({ memory: [{ addr: PAGE, bytes: page }, { addr: PAGE + 0x2000n, bytes: noNul }] });
  };

  it('probe_read_user copies, or zeroes dst and returns -EFAULT', () => {
    const env = makeEnv([], userMem());
    env.stack.fill(0xff);
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 3n, PAGE), 0n);
    assert.deepEqual([...env.stack.subarray(0, 4)], [0x61, 0x62, 0x63, 0xff]);
    env.stack.fill(0xff);
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 8n, PAGE + 4090n), ret(-EFAULT), 'runs off the mapping');
    assert.ok(env.stack.subarray(0, 8).every((b) => b === 0));
    assert.equal(env.stack[8], 0xff);
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 8n, 0n), ret(-EFAULT), 'NULL');
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 8n, USER_ADDR_LIMIT), ret(-EFAULT), 'kernel address');
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 16n, 0xffff_ffff_ffff_fff8n), ret(-EFAULT), 'wraps');
    assert.equal(call(env, BPF_FUNC.probe_read_user, STACK, 0n, 0n), 0n, 'size 0');
    assert.throws(() => call(env, BPF_FUNC.probe_read_user, STACK + 508n, 8n, PAGE), FakeFault, 'dst out of bounds');
  });
  it('probe_read_user_str copies like strncpy_from_user', () => {
    const env = makeEnv([], userMem());
    const str = (size: number, src: bigint): [bigint, number[]] => {
      env.stack.fill(0xff);
      const r = call(env, BPF_FUNC.probe_read_user_str, STACK, BigInt(size), src);
      return [r, [...env.stack.subarray(0, Math.max(size, 1) + 1)]];
    };
    assert.deepEqual(str(256, PAGE).slice(0, 1), [4n], '"abc" with size 256 → 4');
    assert.deepEqual(str(8, PAGE), [4n, [0x61, 0x62, 0x63, 0, 0xff, 0xff, 0xff, 0xff, 0xff]], 'bytes after the NUL untouched');
    assert.deepEqual(str(3, PAGE), [3n, [0x61, 0x62, 0, 0xff]], 'truncated: size - 1 bytes + NUL');
    assert.deepEqual(str(1, PAGE), [1n, [0, 0xff]]);
    assert.deepEqual(str(4, PAGE + 3n), [1n, [0, 0xff, 0xff, 0xff, 0xff]], 'empty string');
    assert.deepEqual(str(0, PAGE), [0n, [0xff, 0xff]], 'size 0');
    env.task.reads.length = 0;
    assert.deepEqual(str(64, PAGE + 4092n).slice(0, 1), [4n], 'a string ending at the end of the mapping');
    assert.deepEqual(env.task.reads, [{ addr: PAGE + 4092n, len: 4 }], 'read page by page');
    const [r, dst] = str(64, PAGE + 0x2000n + 4080n);
    assert.equal(r, ret(-EFAULT), 'unterminated up to the unmapped page');
    assert.ok(dst.slice(0, 64).every((b) => b === 0), 'dst zeroed');
    assert.deepEqual(str(64, USER_ADDR_LIMIT)[0], ret(-EFAULT));
  });
  it('dumpable variants return -EPERM and zeroes for a non-dumpable task', () => {
    const dumpableHelpers = createHelpers({ probeReadUser: 'dumpable' });
    const run = (task: TaskContext, id: number): [bigint, number] => {
      const env = makeEnv([], task);
      env.stack.fill(0xff);
      const r = dumpableHelpers.get(id)!.fn(env, STACK, 4n, PAGE, 0n, 0n);
      return [r, env.stack[0]!];
    };
    for (const id of [BPF_FUNC.probe_read_user, BPF_FUNC.probe_read_user_str]) {
      const t = userMem();
      t.info.dumpable = 0;
      assert.deepEqual(run(t, id), [ret(-EPERM), 0], `${helperName(id)} dumpable 0`);
      t.info.dumpable = 2;
      assert.deepEqual(run(t, id), [id === BPF_FUNC.probe_read_user ? 0n : 4n, 0x61], `${helperName(id)} dumpable 2`);
      const plain: TaskContext = { ...t, tid: t.tid, tgid: () => 1, uid: () => 0, gid: () => 0, comm: () => '', cpu: () => 0, leaderKey: () => 'k', readMemory: (a, l) => t.readMemory(a, l) };
      assert.deepEqual(run(plain, id)[0], ret(-EPERM), 'a task without dumpable() is not dumpable');
      t.info.dumpable = 0;
      const env = makeEnv([], t);
      assert.equal(call(env, id, STACK, 4n, PAGE), id === BPF_FUNC.probe_read_user ? 0n : 4n, 'stock variant ignores dumpability');
    }
  });
  it('probe_read_kernel(_str) read program memory; the compat helpers route by address', () => {
    const env = makeEnv([], userMem());
    const src = putStr(env, 100, 'kernel');
    assert.equal(call(env, BPF_FUNC.probe_read_kernel, STACK, 6n, src), 0n);
    assert.equal(new TextDecoder().decode(env.stack.subarray(0, 6)), 'kernel');
    env.stack.fill(0xff, 0, 8);
    assert.equal(call(env, BPF_FUNC.probe_read_kernel, STACK, 8n, 0x1000n), ret(-EFAULT));
    assert.ok(env.stack.subarray(0, 8).every((b) => b === 0));
    assert.equal(call(env, BPF_FUNC.probe_read_kernel_str, STACK, 32n, src), 7n);
    assert.equal(call(env, BPF_FUNC.probe_read_kernel_str, STACK, 4n, src), 4n);
    assert.deepEqual([...env.stack.subarray(0, 4)], [0x6b, 0x65, 0x72, 0]);
    // A string at the very end of the stack region: the fast path fails, the byte path works.
    const tail = putStr(env, 508, 'end');
    assert.equal(call(env, BPF_FUNC.probe_read_kernel_str, STACK, 64n, tail), 4n);
    env.stack.fill(0x41, 400, 512); // no NUL up to the region's end
    assert.equal(call(env, BPF_FUNC.probe_read_kernel_str, STACK, 200n, STACK + 400n), ret(-EFAULT));
    assert.equal(call(env, BPF_FUNC.probe_read, STACK, 3n, PAGE), 0n, 'user address');
    assert.equal(new TextDecoder().decode(env.stack.subarray(0, 3)), 'abc');
    const src2 = putStr(env, 100, 'k2');
    assert.equal(call(env, BPF_FUNC.probe_read_str, STACK, 8n, src2), 3n, 'kernel address');
    assert.equal(call(env, BPF_FUNC.probe_read_str, STACK, 8n, PAGE), 4n);
  });
});

describe('ring buffer helpers', () => {
  const setup = (): { env: Env; rb: RingBufMap } => {
    const rb = createMap(mapSpec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), { possibleCpus: 2 }) as RingBufMap;
    return { env: makeEnv([rb]), rb };
  };
  it('output, reserve/submit, reserve/discard and query', () => {
    const { env, rb } = setup();
    const data = put(env, 0, [1, 2, 3]);
    assert.equal(call(env, BPF_FUNC.ringbuf_output, mapHandle(0), data, 3n, 0n), 0n);
    const p = call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 4n, 0n);
    assert.notEqual(p, 0n);
    env.mem.slice(p, 4, true).set([9, 9, 9, 9]);
    assert.deepEqual(rb.consume(), [Uint8Array.of(1, 2, 3)], 'the reserved record is not visible yet');
    assert.equal(call(env, BPF_FUNC.ringbuf_submit, p, 0n), 0n);
    assert.throws(() => env.mem.slice(p, 4, false), FakeFault, 'pointer released');
    const q = call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 2n, 0n);
    assert.equal(call(env, BPF_FUNC.ringbuf_discard, q, 0n), 0n);
    assert.deepEqual(rb.consume(), [Uint8Array.of(9, 9, 9, 9)]);
    assert.equal(call(env, BPF_FUNC.ringbuf_query, mapHandle(0), 1n), 4096n);
    assert.equal(call(env, BPF_FUNC.ringbuf_query, mapHandle(0), 3n), 16n + 16n + 16n);
    assert.equal(call(env, BPF_FUNC.ringbuf_query, mapHandle(0), 0n), 0n);
    assert.equal(call(env, BPF_FUNC.ringbuf_query, mapHandle(0), 1n << 40n), 0n);
  });
  it('returns NULL / -EAGAIN / -EINVAL like the kernel', () => {
    const { env } = setup();
    assert.equal(call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 8n, 1n), 0n, 'flags');
    assert.equal(call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 4096n, 0n), 0n, 'too big');
    assert.equal(call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 1n << 40n, 0n), 0n, 'huge');
    assert.equal(call(env, BPF_FUNC.ringbuf_output, mapHandle(0), STACK, 8n, 8n), ret(-EINVAL));
    const big = call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 4000n, 0n);
    assert.notEqual(big, 0n);
    assert.equal(call(env, BPF_FUNC.ringbuf_output, mapHandle(0), STACK, 100n, 0n), ret(-11), '-EAGAIN when full');
    assert.throws(() => call(env, BPF_FUNC.ringbuf_output, mapHandle(0), STACK + 500n, 100n, 0n), FakeFault);
  });
  it('discardOutstandingRecords releases what a failed run left reserved', () => {
    const { env, rb } = setup();
    const p = call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 4n, 0n);
    call(env, BPF_FUNC.ringbuf_output, mapHandle(0), put(env, 0, [7]), 1n, 0n);
    assert.deepEqual(rb.consume(), [], 'blocked behind the reservation');
    assert.equal(discardOutstandingRecords(env.mem), 1);
    assert.throws(() => env.mem.slice(p, 4, false), FakeFault, 'pointer released');
    assert.deepEqual(rb.consume(), [Uint8Array.of(7)]);
    assert.equal(discardOutstandingRecords(env.mem), 0);
  });
  it('refuses pointers that are not reserved records', () => {
    const { env } = setup();
    throwsCode(() => call(env, BPF_FUNC.ringbuf_submit, STACK, 0n), 'ERR_HELPER_INVALID_ARG');
    const p = call(env, BPF_FUNC.ringbuf_reserve, mapHandle(0), 4n, 0n);
    call(env, BPF_FUNC.ringbuf_submit, p, 0n);
    throwsCode(() => call(env, BPF_FUNC.ringbuf_discard, p, 0n), 'ERR_HELPER_INVALID_ARG');
  });
});

describe('task storage helpers', () => {
  const F_CREATE = 1n;
  const setup = (task?: TaskContext): { env: Env; ts: LiveMap } => {
    const ts = createMap(mapSpec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, { flags: BPF_F_NO_PREALLOC }), { possibleCpus: 2 });
    return { env: makeEnv([ts], task), ts };
  };
  it('get with NULL task uses the group leader; F_CREATE initialises from value or zeros', () => {
    const { env, ts } = setup(simulatedTask({ tid: 10, tgid: 10, leaderKey: 'L1' }));
    const get = (task: bigint, value: bigint, flags: bigint): bigint => call(env, BPF_FUNC.task_storage_get, mapHandle(0), task, value, flags);
    assert.equal(get(0n, 0n, 0n), 0n, 'no storage, no F_CREATE');
    const init = put(env, 0, le64(99n));
    const p = get(0n, init, F_CREATE);
    assert.notEqual(p, 0n);
    assert.equal(rd64(env.mem.slice(p, 8, false)), 99n);
    env.mem.slice(p, 8, true)[0] = 100;
    assert.equal(get(0n, 0n, 0n), p, 'same storage again');
    assert.equal(rd64(ts.lookup(new TextEncoder().encode('L1'))!), 100n);
    assert.equal(get(0n, 0n, 2n), 0n, 'flags 2 → NULL');
    assert.equal(get(0n, 0n, 3n), 0n, 'unknown flag bits → NULL');
    assert.equal(get(0x1234n, 0n, F_CREATE), 0n, 'task pointers do not exist here');
    assert.throws(() => get(0n, STACK + 508n, F_CREATE), FakeFault, 'value pointer checked');

    // Another thread of the same process shares it; a forked child (new leader) does not.
    const { env: env2 } = { env: { ...env, task: simulatedTask({ tid: 11, tgid: 10, leaderKey: 'L1' }) } };
    assert.equal(rd64(env2.mem.slice(call(env2, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, 0n), 8, false)), 100n);
    const child = { ...env, task: simulatedTask({ tid: 12, tgid: 12, leaderKey: 'L2' }) };
    assert.equal(call(child, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, 0n), 0n);
    const pc = call(child, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, F_CREATE);
    assert.equal(rd64(child.mem.slice(pc, 8, false)), 0n, 'NULL value → zeros');
  });
  it('delete returns 0, then -ENOENT; a task pointer is -EINVAL', () => {
    const { env } = setup();
    const del = (task: bigint): bigint => call(env, BPF_FUNC.task_storage_delete, mapHandle(0), task);
    assert.equal(del(0n), ret(-ENOENT));
    call(env, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, F_CREATE);
    assert.equal(del(0x1234n), ret(-EINVAL));
    assert.equal(del(0n), 0n);
    assert.equal(del(0n), ret(-ENOENT));
    assert.equal(call(env, BPF_FUNC.task_storage_get, mapHandle(0), 0n, 0n, 0n), 0n);
  });
});

// The same formats through the kernel's bpf_trace_printk: a socket filter built here stores the
// format and string arguments on its stack, calls the helper and returns its result, which
// BPF_PROG_TEST_RUN reports. Compared: the return value (formatted length, or the errno). The
// text goes to tracefs, which tests do not mount, so it is not compared here.
describe('trace_printk against the kernel', async () => {
  type Addon = import('../src/native/addon.js').NativeAddon;
  let addon: Addon | undefined;
  let reason = '';
  try {
    addon = (await import('../src/native/addon.js')).loadAddon();
  } catch (e) {
    reason = `native addon not available: ${(e as Error).message}`;
  }
  const { insn } = await import('../src/ebpf/insn.js');
  const { encodeInsns } = await import('../src/ebpf/codec.js');
  type Insn = import('../src/ebpf/insn.js').Insn;

  function program(fmt: number[], fmtSize: number, args: PrintkArg[]): Insn[] | undefined {
    const out: Insn[] = [];
    const store = (bytes: number[], off: number): void => {
      const padded = [...bytes, 0, 0, 0].slice(0, Math.ceil(bytes.length / 4) * 4);
      for (let i = 0; i < padded.length; i += 4) {
        const w = padded[i]! | (padded[i + 1]! << 8) | (padded[i + 2]! << 16) | (padded[i + 3]! << 24);
        out.push(insn(0x62, 10, 0, off + i, w)); // *(u32 *)(r10 + off) = w
      }
    };
    if (fmt.length > 256) return undefined;
    store(fmt, -512);
    out.push(insn(0xbf, 1, 10), insn(0x07, 1, 0, 0, -512), insn(0xb7, 2, 0, 0, fmtSize));
    let at = -256;
    for (const [i, a] of args.entries()) {
      const reg = 3 + i;
      if (typeof a === 'string' || Array.isArray(a)) {
        const bytes = typeof a === 'string' ? [...new TextEncoder().encode(a), 0] : a;
        if (at + bytes.length > 0) return undefined;
        store(bytes, at);
        out.push(insn(0xbf, reg, 10), insn(0x07, reg, 0, 0, at));
        at += Math.ceil(bytes.length / 8) * 8;
      } else {
        const v = BigInt.asUintN(64, BigInt(a));
        out.push(insn(0x18, reg, 0, 0, Number(BigInt.asIntN(32, v))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))));
      }
    }
    out.push(insn(0x85, 0, 0, 0, BPF_FUNC.trace_printk), insn(0x95));
    return out;
  }

  function kernelPrintk(k: Addon, fmt: string, args: PrintkArg[], fmtSize?: number): number | string {
    const bytes = [...Buffer.from(fmt, 'latin1'), 0];
    const prog = program(bytes, fmtSize ?? bytes.length, args);
    if (!prog) return 'skip';
    const log = new Uint8Array(64 * 1024);
    const fd = k.bpfProgLoad(1, encodeInsns(prog), 'GPL', 1, log);
    if (fd < 0) return `load failed ${fd}: ${new TextDecoder().decode(log.subarray(0, log.indexOf(0)))}`;
    try {
      const r = k.bpfProgTestRun(fd, new Uint8Array(64), 1);
      return typeof r === 'number' ? `test run failed ${r}` : r[0]!;
    } finally {
      k.close(fd);
    }
  }

  const cases: Array<[string, PrintkArg[], number?]> = [
    ...PRINTK_OK.map(([f, a]) => [f, a] as [string, PrintkArg[]]),
    ...PRINTK_BAD.map(([, f, a]) => [f, a] as [string, PrintkArg[]]),
    ['%900d%200d', [1, 2]],
    ['%s%s', ['a'.repeat(120), 'b'.repeat(100)]],
    ['abc', [], 3],
    ['ab\0cd', [], 6],
    ['%-10c|%010u|% 5d', [0x41, 7, -3]],
    ['%c|%5c', [0, 0]],
    ['%08p|%20p|%-20px|', [0x1234, 0x1234, 0x1234]],
    ['%5pI4|%pi4x', [0, 0]],
    ['%5s|%pks|%pS', [0, 0, 0]],
    ['%20pI4|%20pi6|%-20pB|', [0, 0, 0]],
    ['%20pks|%20ps|%2pK', [0, 0, 0]],
    ['%pBx|%pKyz', [0, 0]],
    ['% 05d|%+5d|%0-5d|', [5, 5, 5]],
    ['\x80\x9f\xa0\xff', []],
    ['%lli %llu %lX', [-2n, 3n, 0xffn]],
  ];
  it('returns what the kernel returns for each format', (t) => {
    if (!addon) return t.skip(reason);
    const probe = kernelPrintk(addon, 'x', []);
    if (typeof probe === 'string') return t.skip(`cannot run a trace_printk program here: ${probe}`);
    let compared = 0;
    for (const [fmt, args, size] of cases) {
      const theirs = kernelPrintk(addon, fmt, args, size);
      if (theirs === 'skip') continue;
      assert.equal(typeof theirs, 'number', `${JSON.stringify(fmt)}: ${String(theirs)}`);
      const bytes = [...Buffer.from(fmt, 'latin1'), 0];
      const ours = Number(BigInt.asIntN(32, printk(fmt, args, { fmtSize: size ?? bytes.length }).r));
      assert.equal(ours, theirs, `${JSON.stringify(fmt)} ${JSON.stringify(args, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      compared++;
    }
    t.diagnostic(`${compared} formats compared`);
    assert.ok(compared >= 40);
  });
});

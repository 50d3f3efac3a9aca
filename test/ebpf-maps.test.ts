// Semantics of the live maps (src/ebpf/maps): creation checks, per-type update/lookup/delete
// rules and error codes, per-CPU layouts, the ring buffer protocol, task storage, shared
// state across objects and across threads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_TASK_STORAGE,
  BPF_NOEXIST,
  BPF_RB_NO_WAKEUP,
} from '../src/abi/bpf.js';
import { hasCode } from '../src/errors.js';
import {
  ArrayMap,
  BPF_RB_AVAIL_DATA,
  BPF_RB_CONS_POS,
  BPF_RB_PROD_POS,
  BPF_RB_RING_SIZE,
  createMap,
  HashMap,
  isReadOnlyForProgram,
  lookupAll,
  openSharedMap,
  RingBufMap,
  TaskStorageMap,
  type LiveMap,
  type MapSpec,
} from '../src/ebpf/maps/index.js';
import { E2BIG, EAGAIN, EEXIST, EINVAL, ENOENT, ENOMEM, ENOTSUPP, EPERM } from '../src/ebpf/maps/errno.js';

const spec = (type: number, keySize: number, valueSize: number, maxEntries: number, extra: Partial<MapSpec> = {}): MapSpec => ({
  name: 'm',
  type,
  keySize,
  valueSize,
  maxEntries,
  flags: 0,
  ...extra,
});
const k32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const v64 = (n: number | bigint): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
const rd64 = (v: Uint8Array | undefined): bigint | undefined =>
  v === undefined ? undefined : new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);
const keyNums = (m: LiveMap): number[] => m.keys().map((k) => new DataView(k.buffer, k.byteOffset).getUint32(0, true)).sort((a, b) => a - b);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const CPUS = { possibleCpus: 2 };

function assertCode(fn: () => unknown, code: string, msg?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(hasCode(e, code), `expected ${code}, got ${String(e)}`);
    if (msg) assert.match((e as Error).message, msg);
    return true;
  });
}

describe('map creation checks', () => {
  const bad: Array<[string, MapSpec, string, RegExp]> = [
    ['hash key size 0', spec(BPF_MAP_TYPE_HASH, 0, 8, 4), 'ERR_MAP_INVALID', /key size is 0/],
    ['hash value size 0', spec(BPF_MAP_TYPE_HASH, 4, 0, 4), 'ERR_MAP_INVALID', /value size is 0/],
    ['hash max_entries 0', spec(BPF_MAP_TYPE_HASH, 4, 8, 0), 'ERR_MAP_INVALID', /max_entries is 0/],
    ['hash element over 4 MiB', spec(BPF_MAP_TYPE_HASH, 4, 4 << 20, 1), 'ERR_MAP_TOO_LARGE', /key size \+ value size/],
    ['hash with MMAPABLE', spec(BPF_MAP_TYPE_HASH, 4, 8, 4, { flags: BPF_F_MMAPABLE }), 'ERR_MAP_INVALID', /flags 0x400 not allowed/],
    ['LRU without prealloc', spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, { flags: BPF_F_NO_PREALLOC }), 'ERR_MAP_INVALID', /BPF_F_NO_PREALLOC/],
    ['array key size 8', spec(BPF_MAP_TYPE_ARRAY, 8, 8, 4), 'ERR_MAP_INVALID', /key size must be 4/],
    ['array max_entries 0', spec(BPF_MAP_TYPE_ARRAY, 4, 8, 0), 'ERR_MAP_INVALID', /max_entries is 0/],
    ['percpu array MMAPABLE', spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, { flags: BPF_F_MMAPABLE }), 'ERR_MAP_INVALID', /not allowed/],
    ['percpu value too big', spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 40000, 1), 'ERR_MAP_TOO_LARGE', /per-CPU value size/],
    ['array too big', spec(BPF_MAP_TYPE_ARRAY, 4, 1 << 20, 1 << 12), 'ERR_MAP_TOO_LARGE', /bytes of storage/],
    ['prog array', spec(3, 4, 4, 4), 'ERR_MAP_INVALID', /BPF_MAP_TYPE_PROG_ARRAY \(3\)/],
    ['unknown type', spec(99, 4, 4, 4), 'ERR_MAP_INVALID', /map type 99/],
    ['ringbuf not power of 2', spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 3 * 4096), 'ERR_MAP_INVALID', /power of 2/],
    ['ringbuf under a page', spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 2048), 'ERR_MAP_INVALID', /multiple of 4096/],
    ['ringbuf with key', spec(BPF_MAP_TYPE_RINGBUF, 4, 0, 4096), 'ERR_MAP_INVALID', /key and value sizes must be 0/],
    ['task storage prealloc', spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0), 'ERR_MAP_INVALID', /requires BPF_F_NO_PREALLOC/],
    ['task storage entries', spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 1, { flags: BPF_F_NO_PREALLOC }), 'ERR_MAP_INVALID', /max_entries must be 0/],
    ['rdonly+wronly prog', spec(BPF_MAP_TYPE_ARRAY, 4, 8, 1, { flags: BPF_F_RDONLY_PROG | (1 << 8) }), 'ERR_MAP_INVALID', /together/],
    ['fractional size', spec(BPF_MAP_TYPE_HASH, 1.5, 8, 4), 'ERR_MAP_INVALID', /keySize must be an integer/],
    ['initialValue too long', spec(BPF_MAP_TYPE_ARRAY, 4, 4, 1, { initialValue: new Uint8Array(5) }), 'ERR_MAP_INVALID', /initialValue has 5 bytes/],
    ['initialValue on hash', spec(BPF_MAP_TYPE_HASH, 4, 4, 1, { initialValue: new Uint8Array(4) }), 'ERR_MAP_INVALID', /only for BPF_MAP_TYPE_ARRAY/],
  ];
  for (const [name, s, code, msg] of bad) {
    it(`refuses ${name}`, () => assertCode(() => createMap(s, CPUS), code, msg));
  }
  it('names the map in messages', () => assertCode(() => createMap({ ...spec(BPF_MAP_TYPE_HASH, 0, 8, 4), name: 'counts' }, CPUS), 'ERR_MAP_INVALID', /map "counts"/));
  it('refuses bad options', () => {
    assertCode(() => createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 4), { possibleCpus: 0 }), 'ERR_MAP_INVALID', /possibleCpus/);
    assertCode(() => createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 4), { possibleCpus: 1, cpus: 2 } as never), 'ERR_MAP_INVALID', /unknown option "cpus"/);
    assertCode(() => createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 4), null as never), 'ERR_MAP_INVALID');
  });
  it('creates every supported type', () => {
    const ok: Array<[MapSpec, Function]> = [ // the classes have private constructors
      [spec(BPF_MAP_TYPE_HASH, 4, 8, 4), HashMap],
      [spec(BPF_MAP_TYPE_ARRAY, 4, 8, 4, { flags: BPF_F_MMAPABLE }), ArrayMap],
      [spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 4), HashMap],
      [spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4), ArrayMap],
      [spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4), HashMap],
      [spec(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 4), HashMap],
      [spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), RingBufMap],
      [spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, { flags: BPF_F_NO_PREALLOC }), TaskStorageMap],
    ];
    for (const [s, cls] of ok) assert.ok(createMap(s, CPUS) instanceof cls, `type ${s.type}`);
  });
});

// Runs [operation, expected result] steps against one map.
type Step = [string, (m: LiveMap) => unknown, unknown];
function runSteps(m: LiveMap, steps: Step[]): void {
  for (const [what, op, expected] of steps) assert.deepEqual(op(m), expected, what);
}

describe('ARRAY', () => {
  it('follows array_map_update_elem / lookup / delete', () => {
    const m = createMap(spec(BPF_MAP_TYPE_ARRAY, 4, 8, 4), CPUS);
    runSteps(m, [
      ['values start zeroed', (x) => rd64(x.lookup(k32(3))), 0n],
      ['lookup past the end', (x) => x.lookup(k32(4)), undefined],
      ['update past the end', (x) => x.update(k32(4), v64(1), BPF_ANY), -E2BIG],
      ['NOEXIST: elements always exist', (x) => x.update(k32(1), v64(1), BPF_NOEXIST), -EEXIST],
      ['EXIST', (x) => x.update(k32(1), v64(7), BPF_EXIST), 0],
      ['ANY', (x) => x.update(k32(2), v64(9), BPF_ANY), 0],
      ['read back', (x) => [rd64(x.lookup(k32(1))), rd64(x.lookup(k32(2)))], [7n, 9n]],
      ['flags 3', (x) => x.update(k32(1), v64(1), 3), -EINVAL],
      ['flags 8', (x) => x.update(k32(1), v64(1), 8), -EINVAL],
      ['BPF_F_LOCK without a spin lock', (x) => x.update(k32(1), v64(1), BPF_F_LOCK), -EINVAL],
      ['delete', (x) => x.delete(k32(1)), -EINVAL],
      ['delete past the end', (x) => x.delete(k32(9)), -EINVAL],
      ['keys are all indexes', (x) => keyNums(x), [0, 1, 2, 3]],
      ['unchanged by failures', (x) => rd64(x.lookup(k32(1))), 7n],
    ]);
  });
  it('lookup aliases the storage', () => {
    const m = createMap(spec(BPF_MAP_TYPE_ARRAY, 4, 8, 2), CPUS);
    const v = m.lookup(k32(1))!;
    v[0] = 42;
    assert.equal(rd64(m.lookup(k32(1))), 42n);
    m.update(k32(1), v64(5), BPF_ANY);
    assert.equal(v[0], 5);
  });
  it('initialises global sections from initialValue', () => {
    const m = createMap(spec(BPF_MAP_TYPE_ARRAY, 4, 6, 1, { name: '.data', initialValue: Uint8Array.of(1, 2, 3) }), CPUS);
    assert.deepEqual([...m.lookup(k32(0))!], [1, 2, 3, 0, 0, 0]);
    const ro = spec(BPF_MAP_TYPE_ARRAY, 4, 4, 1, { name: '.rodata', readOnly: true });
    assert.equal(isReadOnlyForProgram(ro), true);
    assert.equal(isReadOnlyForProgram(spec(BPF_MAP_TYPE_ARRAY, 4, 4, 1, { flags: BPF_F_RDONLY_PROG })), true);
    assert.equal(isReadOnlyForProgram(spec(BPF_MAP_TYPE_ARRAY, 4, 4, 1)), false);
  });
  it('rejects keys and values of the wrong size', () => {
    const m = createMap(spec(BPF_MAP_TYPE_ARRAY, 4, 8, 2), CPUS);
    assertCode(() => m.lookup(new Uint8Array(8)), 'ERR_MAP_KEY_SIZE', /key must be 4 bytes, got 8/);
    assertCode(() => m.update(k32(0), new Uint8Array(4), BPF_ANY), 'ERR_MAP_VALUE_SIZE', /value must be 8 bytes/);
  });
  it('freeze blocks bpf(2) writes only', () => {
    const m = createMap(spec(BPF_MAP_TYPE_ARRAY, 4, 8, 2), CPUS);
    m.freeze();
    assert.equal(m.update(k32(0), v64(1), BPF_ANY), -EPERM);
    assert.equal(m.update(k32(0), v64(2), BPF_ANY, 0), 0);
    assert.equal(rd64(m.lookup(k32(0))), 2n);
  });
});

describe('HASH', () => {
  it('follows htab_map_update_elem / delete', () => {
    const m = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 2), CPUS);
    runSteps(m, [
      ['EXIST on a missing key', (x) => x.update(k32(1), v64(1), BPF_EXIST), -ENOENT],
      ['NOEXIST inserts', (x) => x.update(k32(1), v64(1), BPF_NOEXIST), 0],
      ['NOEXIST on a present key', (x) => x.update(k32(1), v64(2), BPF_NOEXIST), -EEXIST],
      ['ANY replaces', (x) => x.update(k32(1), v64(3), BPF_ANY), 0],
      ['read back', (x) => rd64(x.lookup(k32(1))), 3n],
      ['second key', (x) => x.update(k32(2), v64(4), BPF_ANY), 0],
      ['full: new key', (x) => x.update(k32(3), v64(5), BPF_ANY), -E2BIG],
      ['full: NOEXIST new key', (x) => x.update(k32(3), v64(5), BPF_NOEXIST), -E2BIG],
      ['full: EXIST new key', (x) => x.update(k32(3), v64(5), BPF_EXIST), -ENOENT],
      ['full: existing key', (x) => x.update(k32(1), v64(6), BPF_EXIST), 0],
      ['flags 3', (x) => x.update(k32(1), v64(1), 3), -EINVAL],
      ['BPF_F_LOCK', (x) => x.update(k32(1), v64(1), BPF_F_LOCK), -EINVAL],
      ['negative flags', (x) => x.update(k32(1), v64(1), -1), -EINVAL],
      ['delete missing', (x) => x.delete(k32(3)), -ENOENT],
      ['delete', (x) => x.delete(k32(1)), 0],
      ['lookup deleted', (x) => x.lookup(k32(1)), undefined],
      ['room again', (x) => x.update(k32(3), v64(7), BPF_ANY), 0],
      ['keys', (x) => keyNums(x), [2, 3]],
      ['values', (x) => [rd64(x.lookup(k32(2))), rd64(x.lookup(k32(3)))], [4n, 7n]],
    ]);
  });
  it('matches a reference model over random operations', () => {
    // Small capacity and a key space 3x larger: chains, full-map and free-list reuse.
    const m = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 16), CPUS);
    const model = new Map<number, bigint>();
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let step = 0; step < 5000; step++) {
      const key = rnd(48);
      const op = rnd(4);
      if (op === 0) {
        assert.equal(rd64(m.lookup(k32(key))), model.get(key), `lookup ${key} @${step}`);
      } else if (op === 1) {
        const r = m.delete(k32(key));
        assert.equal(r, model.delete(key) ? 0 : -ENOENT, `delete ${key} @${step}`);
      } else {
        const flags = rnd(3);
        const val = BigInt(step);
        const present = model.has(key);
        const expect = flags === BPF_NOEXIST && present ? -EEXIST : flags === BPF_EXIST && !present ? -ENOENT : !present && model.size >= 16 ? -E2BIG : 0;
        assert.equal(m.update(k32(key), v64(val), flags), expect, `update ${key} flags ${flags} @${step}`);
        if (expect === 0) model.set(key, val);
      }
    }
    assert.deepEqual(keyNums(m), [...model.keys()].sort((a, b) => a - b));
    assert.equal((m as HashMap).size, model.size);
  });
  it('freeze blocks bpf(2) update and delete, not the program', () => {
    const m = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 2), CPUS) as HashMap;
    m.update(k32(1), v64(1), BPF_ANY);
    m.freeze();
    assert.equal(m.update(k32(2), v64(1), BPF_ANY), -EPERM);
    assert.equal(m.delete(k32(1)), -EPERM);
    assert.equal(m.update(k32(2), v64(1), BPF_ANY, 1), 0);
    assert.equal(m.deleteElem(k32(1), true), 0);
  });
});

describe('LRU_HASH', () => {
  it('evicts the least recently used; program lookups refresh, bpf(2) lookups do not', () => {
    const m = createMap(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 3), CPUS);
    runSteps(m, [
      ['a', (x) => x.update(k32(1), v64(1), BPF_ANY), 0],
      ['b', (x) => x.update(k32(2), v64(2), BPF_ANY), 0],
      ['c', (x) => x.update(k32(3), v64(3), BPF_ANY), 0],
      ['d evicts a', (x) => [x.update(k32(4), v64(4), BPF_ANY), keyNums(x)], [0, [2, 3, 4]]],
      ['program lookup of b', (x) => rd64(x.lookup(k32(2), 0)), 2n],
      ['e evicts c, not b', (x) => [x.update(k32(5), v64(5), BPF_ANY), keyNums(x)], [0, [2, 4, 5]]],
      ['bpf(2) lookup of d', (x) => rd64(x.lookup(k32(4))), 4n],
      ['f evicts d anyway', (x) => [x.update(k32(6), v64(6), BPF_ANY), keyNums(x)], [0, [2, 5, 6]]],
      ['update refreshes b', (x) => x.update(k32(2), v64(22), BPF_EXIST), 0],
      ['g evicts e', (x) => [x.update(k32(7), v64(7), BPF_ANY), keyNums(x)], [0, [2, 6, 7]]],
      ['NOEXIST on present key: -EEXIST, no eviction', (x) => [x.update(k32(2), v64(0), BPF_NOEXIST), keyNums(x)], [-EEXIST, [2, 6, 7]]],
      ['EXIST on missing key: -ENOENT, no eviction', (x) => [x.update(k32(9), v64(0), BPF_EXIST), keyNums(x)], [-ENOENT, [2, 6, 7]]],
      ['delete', (x) => x.delete(k32(6)), 0],
      ['delete missing', (x) => x.delete(k32(6)), -ENOENT],
      ['insert into the hole: no eviction', (x) => [x.update(k32(8), v64(8), BPF_ANY), keyNums(x)], [0, [2, 7, 8]]],
    ]);
  });
  it('matches an exact-LRU model over random operations', () => {
    const cap = 8;
    const m = createMap(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, cap), CPUS);
    const model = new Map<number, bigint>(); // insertion order = recency (oldest first)
    const touch = (k: number, v: bigint): void => {
      model.delete(k);
      model.set(k, v);
    };
    let seed = 99;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let step = 0; step < 4000; step++) {
      const key = rnd(20);
      const op = rnd(5);
      if (op === 0) {
        const got = rd64(m.lookup(k32(key), 1));
        assert.equal(got, model.get(key), `lookup @${step}`);
        if (got !== undefined) touch(key, got);
      } else if (op === 1) {
        assert.equal(m.delete(k32(key)), model.delete(key) ? 0 : -ENOENT);
      } else {
        const flags = rnd(3);
        const present = model.has(key);
        const expect = flags === BPF_NOEXIST && present ? -EEXIST : flags === BPF_EXIST && !present ? -ENOENT : 0;
        assert.equal(m.update(k32(key), v64(step), flags), expect, `update @${step}`);
        if (expect === 0) {
          if (!present && model.size >= cap) model.delete(model.keys().next().value!);
          touch(key, BigInt(step));
        }
      }
      assert.deepEqual(keyNums(m), [...model.keys()].sort((a, b) => a - b), `keys @${step}`);
    }
  });
});

describe('per-CPU maps', () => {
  const cpus = { possibleCpus: 3 };
  // value_size 4 → 8-byte slots; bpf(2) value = 3 x 8 bytes.
  const perCpuValue = (...vals: number[]): Uint8Array => {
    const out = new Uint8Array(8 * vals.length);
    vals.forEach((v, i) => new DataView(out.buffer).setUint32(i * 8, v, true));
    return out;
  };
  const rd32 = (v: Uint8Array | undefined): number | undefined => (v ? new DataView(v.buffer, v.byteOffset).getUint32(0, true) : undefined);

  it('PERCPU_ARRAY: one value per CPU, bpf(2) layout from user space', () => {
    const m = createMap(spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2), cpus) as ArrayMap;
    assert.equal(m.update(k32(1), perCpuValue(10, 11, 12), BPF_ANY), 0);
    assert.deepEqual([0, 1, 2].map((c) => rd32(m.lookup(k32(1), c))), [10, 11, 12]);
    assert.equal(m.update(k32(1), Uint8Array.of(5, 0, 0, 0), BPF_ANY, 1), 0, 'program update of cpu 1');
    assert.deepEqual(lookupAll(m, k32(1)), perCpuValue(10, 5, 12));
    assert.equal(m.lookup(k32(1), 2)!.length, 4);
    assert.equal(m.update(k32(2), perCpuValue(1, 1, 1), BPF_ANY), -E2BIG);
    assert.equal(m.update(k32(1), perCpuValue(1, 1, 1), BPF_NOEXIST), -EEXIST);
    assert.equal(m.update(k32(1), perCpuValue(1, 1, 1), BPF_F_LOCK), -EINVAL);
    assert.equal(m.delete(k32(1)), -EINVAL);
    assertCode(() => m.lookup(k32(1), 3), 'ERR_MAP_CPU', /cpu 3 is not in \[0, 3\)/);
    assertCode(() => m.update(k32(1), Uint8Array.of(1, 2, 3, 4), BPF_ANY), 'ERR_MAP_VALUE_SIZE', /24 bytes/);
  });
  it('PERCPU_HASH: a program insert zeroes the other CPUs', () => {
    const m = createMap(spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 2), cpus) as HashMap;
    assert.equal(m.update(k32(7), perCpuValue(1, 2, 3), BPF_ANY), 0);
    assert.equal(m.delete(k32(7)), 0);
    // The freed element's old values must not leak into the new one.
    assert.equal(m.update(k32(8), Uint8Array.of(9, 0, 0, 0), BPF_NOEXIST, 2), 0);
    assert.deepEqual(m.lookupAll(k32(8)), perCpuValue(0, 0, 9));
    assert.equal(m.update(k32(8), Uint8Array.of(4, 0, 0, 0), BPF_EXIST, 0), 0);
    assert.deepEqual(m.lookupAll(k32(8)), perCpuValue(4, 0, 9));
    assert.equal(rd32(m.lookup(k32(8), 2)), 9);
    assert.equal(m.update(k32(9), perCpuValue(1, 1, 1), BPF_EXIST), -ENOENT);
    assert.equal(m.update(k32(9), perCpuValue(1, 1, 1), BPF_ANY), 0);
    assert.equal(m.update(k32(10), perCpuValue(1, 1, 1), BPF_ANY), -E2BIG);
    assert.equal(m.lookupAll(k32(10)), undefined);
  });
  it('LRU_PERCPU_HASH evicts like LRU_HASH', () => {
    const m = createMap(spec(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 4, 2), cpus);
    m.update(k32(1), perCpuValue(1, 1, 1), BPF_ANY);
    m.update(k32(2), perCpuValue(2, 2, 2), BPF_ANY);
    m.lookup(k32(1), 0);
    m.update(k32(3), perCpuValue(3, 3, 3), BPF_ANY);
    assert.deepEqual(keyNums(m), [1, 3]);
  });
});

describe('RINGBUF', () => {
  const ring = (size = 4096): RingBufMap => createMap(spec(BPF_MAP_TYPE_RINGBUF, 0, 0, size), CPUS) as RingBufMap;
  const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

  it('delivers submitted records in order and skips discarded ones', () => {
    const rb = ring();
    const a = rb.reserve(10)!;
    assert.equal(a.length, 10);
    a.fill(0xaa);
    rb.submit(a);
    assert.equal(rb.output(bytes(3, 0xbb)), 0);
    const c = rb.reserve(5)!;
    rb.discard(c);
    assert.equal(rb.output(bytes(1, 0xdd), BPF_RB_NO_WAKEUP), 0);
    // Headers: round_up(len + 8, 8) → 24 + 16 + 16 + 16.
    assert.equal(rb.query(BPF_RB_PROD_POS), 72n);
    assert.equal(rb.query(BPF_RB_AVAIL_DATA), 72n);
    assert.deepEqual(rb.consume(), [bytes(10, 0xaa), bytes(3, 0xbb), bytes(1, 0xdd)]);
    assert.equal(rb.query(BPF_RB_CONS_POS), 72n);
    assert.equal(rb.query(BPF_RB_AVAIL_DATA), 0n);
    assert.equal(rb.query(BPF_RB_RING_SIZE), 4096n);
    assert.equal(rb.query(7), 0n);
    assert.deepEqual(rb.consume(), []);
  });
  it('a reserved record holds back the records after it', () => {
    const rb = ring();
    const a = rb.reserve(4)!;
    rb.output(bytes(2, 2));
    assert.deepEqual(rb.consume(), []);
    assert.equal(rb.hasData(), false);
    a.set([1, 1, 1, 1]);
    rb.submit(a);
    assert.deepEqual(rb.consume(), [bytes(4, 1), bytes(2, 2)]);
  });
  it('applies the kernel space checks', () => {
    const rb = ring();
    assert.equal(rb.reserve(4088), undefined, 'a 4096-byte record never fits (size - 1 rule)');
    assert.equal(rb.reserve(5000), undefined, 'larger than the ring');
    assert.equal(rb.reserve(1, 1), undefined, 'flags');
    assert.equal(rb.output(bytes(1, 0), 4), -EINVAL, 'output flags');
    const big = rb.reserve(4080)!;
    assert.ok(big);
    assert.equal(rb.reserve(0), undefined, 'full');
    assert.equal(rb.output(bytes(1, 0)), -EAGAIN);
    rb.submit(big);
    assert.equal(rb.reserve(0), undefined, 'still full until consumed');
    assert.equal(rb.consume().length, 1);
    assert.ok(rb.reserve(0), 'space again');
  });
  it('keeps a record that wraps around the end contiguous', () => {
    const rb = ring();
    // Advance the positions to 4000, then write a 200-byte record across the end.
    rb.output(bytes(4000 - 8, 0));
    rb.consume();
    const rec = Uint8Array.from({ length: 200 }, (_, i) => i);
    assert.equal(rb.output(rec), 0);
    assert.equal(rb.output(bytes(8, 7)), 0);
    assert.deepEqual(rb.consume(), [rec, bytes(8, 7)]);
    assert.equal(rb.query(BPF_RB_CONS_POS), 4000n + 208n + 16n);
    for (let i = 0; i < 200; i++) rb.output(Uint8Array.of(i, i + 1, i + 2));
    const got = rb.consume();
    assert.equal(got.length, 200);
    assert.deepEqual(got[199], Uint8Array.of(199, 200, 201));
  });
  it('refuses bad submits and element operations', () => {
    const rb = ring();
    const a = rb.reserve(8)!;
    rb.submit(a);
    assertCode(() => rb.submit(a), 'ERR_MAP_RINGBUF_RECORD');
    assertCode(() => rb.discard(new Uint8Array(8)), 'ERR_MAP_RINGBUF_RECORD');
    assert.equal(rb.lookup(), undefined);
    assert.equal(rb.update(), -ENOTSUPP);
    assert.equal(rb.delete(new Uint8Array(0)), -ENOTSUPP);
    assert.deepEqual(rb.keys(), []);
  });
  it('waitForData times out when empty and returns at once with data', () => {
    const rb = ring();
    assert.equal(rb.waitForData(1), false);
    rb.output(bytes(1, 1));
    assert.equal(rb.waitForData(1000), true);
  });
});

describe('TASK_STORAGE', () => {
  const ts = (capacity = 2): TaskStorageMap =>
    createMap(spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, { flags: BPF_F_NO_PREALLOC }), { possibleCpus: 1, taskStorageCapacity: capacity }) as TaskStorageMap;

  it('keeps one value per thread-group leader', () => {
    const m = ts();
    assert.equal(m.getForLeader('100:5', false), undefined);
    const v = m.getForLeader('100:5', true, v64(7))!;
    assert.equal(rd64(v), 7n);
    v[0] = 8;
    assert.equal(rd64(m.getForLeader('100:5', false)), 8n, 'same storage');
    assert.equal(rd64(m.getForLeader('100:5', true, v64(99))), 8n, 'create does not overwrite');
    assert.equal(rd64(m.getForLeader('200:9', true)), 0n, 'no init: zeros');
    assert.equal(m.getForLeader('300:1', true), undefined, 'capacity reached');
    assert.equal(m.deleteForLeader('300:1'), -ENOENT);
    assert.equal(m.deleteForLeader('200:9'), 0);
    assert.ok(m.getForLeader('300:1', true));
    assert.deepEqual(m.keys().map((k) => new TextDecoder().decode(k)).sort(), ['100:5', '300:1']);
  });
  it('offers the bpf(2) operations by leader key', () => {
    const m = ts();
    runSteps(m, [
      ['EXIST on missing', (x) => x.update(utf8('a'), v64(1), BPF_EXIST), -ENOENT],
      ['NOEXIST', (x) => x.update(utf8('a'), v64(1), BPF_NOEXIST), 0],
      ['NOEXIST again', (x) => x.update(utf8('a'), v64(1), BPF_NOEXIST), -EEXIST],
      ['ANY', (x) => x.update(utf8('b'), v64(2), BPF_ANY), 0],
      ['full', (x) => x.update(utf8('c'), v64(3), BPF_ANY), -ENOMEM],
      ['flags', (x) => x.update(utf8('a'), v64(3), BPF_F_LOCK), -EINVAL],
      ['lookup', (x) => rd64(x.lookup(utf8('b'))), 2n],
      ['delete', (x) => x.delete(utf8('b')), 0],
      ['delete missing', (x) => x.delete(utf8('b')), -ENOENT],
    ]);
    assertCode(() => m.lookup(new Uint8Array(129).fill(65)), 'ERR_MAP_KEY_SIZE');
    assertCode(() => m.lookup(new Uint8Array(0)), 'ERR_MAP_KEY_SIZE');
  });
  it('refuses a bad capacity', () => {
    assertCode(() => createMap(spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, { flags: BPF_F_NO_PREALLOC }), { possibleCpus: 1, taskStorageCapacity: 0 }), 'ERR_MAP_INVALID', /taskStorageCapacity/);
  });
});

describe('shared state', () => {
  it('two objects over the same buffers see each other', () => {
    const h1 = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 8), CPUS);
    const h2 = openSharedMap(h1.share());
    h1.update(k32(1), v64(1), BPF_ANY);
    assert.equal(rd64(h2.lookup(k32(1))), 1n);
    h2.update(k32(2), v64(2), BPF_ANY);
    h2.delete(k32(1));
    assert.deepEqual(keyNums(h1), [2]);

    const a1 = createMap(spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2), CPUS);
    const a2 = openSharedMap(a1.share());
    a2.update(k32(1), v64(5), BPF_ANY, 1);
    assert.equal(rd64(a1.lookup(k32(1), 1)), 5n);

    const r1 = createMap(spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), CPUS) as RingBufMap;
    const r2 = openSharedMap(r1.share()) as RingBufMap;
    r1.output(Uint8Array.of(1, 2));
    assert.deepEqual(r2.consume(), [Uint8Array.of(1, 2)]);

    const t1 = createMap(spec(BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, { flags: BPF_F_NO_PREALLOC }), CPUS) as TaskStorageMap;
    const t2 = openSharedMap(t1.share()) as TaskStorageMap;
    t1.getForLeader('x', true, v64(3));
    assert.equal(rd64(t2.getForLeader('x', false)), 3n);

    h1.freeze();
    assert.equal(h2.update(k32(3), v64(3), BPF_ANY), -EPERM, 'frozen state is shared');
  });
  it('refuses state that does not fit the spec', () => {
    const h = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 8), CPUS);
    const st = h.share();
    assertCode(() => openSharedMap({ ...st, spec: { ...st.spec, type: BPF_MAP_TYPE_LRU_HASH } }), 'ERR_MAP_SHARED_STATE', /buffers hold a BPF_MAP_TYPE_HASH/);
    assertCode(() => openSharedMap({ ...st, spec: { ...st.spec, maxEntries: 9 } }), 'ERR_MAP_SHARED_STATE');
    assertCode(() => openSharedMap({ ...st, buffers: st.buffers.slice(0, 2) }), 'ERR_MAP_SHARED_STATE', /expected 3 buffers/);
    assertCode(() => openSharedMap({ ...st, buffers: [new ArrayBuffer(64)] as never }), 'ERR_MAP_SHARED_STATE', /SharedArrayBuffers/);
    assertCode(() => openSharedMap(null as never), 'ERR_MAP_SHARED_STATE');
  });
});

describe('map lock', () => {
  it('a lock left held (a thread died in a critical section) gives ERR_MAP_LOCK_TIMEOUT, not a hang', () => {
    const m = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 4), CPUS);
    const word = new Int32Array(m.share().buffers[0]!);
    Atomics.store(word, 0, 1);
    const t0 = Date.now();
    assertCode(() => m.lookup(k32(1)), 'ERR_MAP_LOCK_TIMEOUT', /more than 1000 ms/);
    assert.ok(Date.now() - t0 >= 1000);
    Atomics.store(word, 0, 0);
    assert.equal(m.update(k32(1), v64(1), BPF_ANY), 0);
  });
});

describe('concurrency with a worker thread', () => {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const mapsUrl = pathToFileURL(new URL('../src/ebpf/maps/index.ts', import.meta.url).pathname).href;
  // The worker runs `body` (an async function of (maps, data) returning a result).
  function runWorker(body: string, data: unknown): { result: Promise<unknown>; started: Promise<void> } {
    let onStart!: () => void;
    const started = new Promise<void>((r) => (onStart = r));
    const w = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.tsxApi).then(async (api) => {
         api.register();
         const maps = await import(workerData.mapsUrl);
         parentPort.postMessage({ started: true });
         const fn = ${body};
         parentPort.postMessage({ result: await fn(maps, workerData.data) });
       }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`,
      { eval: true, workerData: { tsxApi, mapsUrl, data } },
    );
    const result = new Promise<unknown>((resolve, reject) => {
      w.on('message', (m: { started?: boolean; result?: unknown; error?: string }) => {
        if (m.started) onStart();
        else if (m.error) reject(new Error(m.error));
        else {
          resolve(m.result);
          void w.terminate();
        }
      });
      w.on('error', reject);
    });
    return { result, started };
  }
  // A shared go-flag so both threads start their loops at the same moment.
  const goFlag = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));
  const go = (flag: Int32Array): void => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  const waitGo = `const waitGo = (f) => { while (Atomics.load(f, 0) === 0) Atomics.wait(f, 0, 0, 10); };`;

  it('concurrent inserts and deletes into one hash map stay consistent', async () => {
    const N = 20000;
    const m = createMap(spec(BPF_MAP_TYPE_HASH, 4, 8, 2 * N), CPUS) as HashMap;
    const flag = goFlag();
    const w = runWorker(
      `async (maps, d) => { ${waitGo}
        const m = maps.openSharedMap(d.state); waitGo(d.flag);
        const k = (n) => new Uint8Array(new Uint32Array([n]).buffer);
        let fails = 0;
        for (let i = 1; i < 2 * d.N; i += 2) if (m.update(k(i), new Uint8Array(8).fill(1), 0) !== 0) fails++;
        for (let i = 1; i < 2 * d.N; i += 4) if (m.delete(k(i)) !== 0) fails++;
        return fails; }`,
      { state: m.share(), flag, N },
    );
    await w.started;
    go(flag);
    let fails = 0;
    for (let i = 0; i < 2 * N; i += 2) if (m.update(k32(i), new Uint8Array(8).fill(2), BPF_ANY) !== 0) fails++;
    for (let i = 0; i < 2 * N; i += 4) if (m.delete(k32(i)) !== 0) fails++;
    assert.equal(fails, 0);
    assert.equal(await w.result, 0);
    const expected: number[] = [];
    for (let i = 0; i < 2 * N; i++) if (i % 4 >= 2) expected.push(i);
    assert.deepEqual(keyNums(m), expected);
    assert.equal(m.size, N);
    for (const i of [2, 3, 2 * N - 1]) assert.equal(m.lookup(k32(i))![0], i % 2 === 0 ? 2 : 1);
  });

  it('a small LRU map hammered by two threads keeps its invariants', async () => {
    const m = createMap(spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 64), CPUS) as HashMap;
    const flag = goFlag();
    const w = runWorker(
      `async (maps, d) => { ${waitGo}
        const m = maps.openSharedMap(d.state); waitGo(d.flag);
        let bad = 0;
        for (let i = 0; i < 30000; i++) {
          const key = new Uint8Array(new Uint32Array([1000000 + (i % 500)]).buffer);
          if (m.update(key, new Uint8Array(8), 0) !== 0) bad++;
          m.lookup(key, 1);
        }
        return bad; }`,
      { state: m.share(), flag },
    );
    await w.started;
    go(flag);
    let bad = 0;
    for (let i = 0; i < 30000; i++) {
      if (m.update(k32(i % 700), v64(i), BPF_ANY) !== 0) bad++;
      m.lookup(k32((i * 7) % 700), 0);
    }
    assert.equal(bad, 0);
    assert.equal(await w.result, 0);
    const keys = keyNums(m);
    assert.equal(keys.length, 64);
    assert.equal(new Set(keys).size, 64);
    assert.equal(m.size, 64);
  });

  it('a ring buffer produced in a worker and consumed here delivers every record in order', async () => {
    const rb = createMap(spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), CPUS) as RingBufMap;
    const COUNT = 20000;
    const w = runWorker(
      `async (maps, d) => {
        const rb = maps.openSharedMap(d.state);
        let retries = 0;
        for (let i = 0; i < d.COUNT; i++) {
          const rec = new Uint8Array(4 + (i % 13));
          new DataView(rec.buffer).setUint32(0, i, true);
          rec.fill(i & 0xff, 4);
          while (rb.output(rec) !== 0) retries++;
        }
        return retries; }`,
      { state: rb.share(), COUNT },
    );
    const got: Uint8Array[] = [];
    while (got.length < COUNT) {
      if (!rb.waitForData(5)) await new Promise((r) => setImmediate(r));
      got.push(...rb.consume());
    }
    await w.result;
    assert.equal(got.length, COUNT);
    for (let i = 0; i < COUNT; i++) {
      const r = got[i]!;
      assert.equal(r.length, 4 + (i % 13), `length of record ${i}`);
      assert.equal(new DataView(r.buffer).getUint32(0, true), i, `record ${i}`);
      assert.ok(r.subarray(4).every((b) => b === (i & 0xff)), `payload ${i}`);
    }
  });
});

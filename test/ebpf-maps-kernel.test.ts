// Differential test: the same random sequences of bpf(2) map operations on a real kernel map
// (through the native addon) and on our map, comparing every return code and, regularly, the
// whole contents. Also compares which map specs BPF_MAP_CREATE accepts.
//
// What is compared:
// - HASH (preallocated and BPF_F_NO_PREALLOC, odd key/value sizes), ARRAY, PERCPU_ARRAY and
//   PERCPU_HASH (bpf(2) per-CPU layout, padding included): every result and all contents.
// - LRU_HASH, large (1024 entries, at most 32 keys live): the kernel cannot evict here (each
//   CPU's local free list takes at most 128 nodes and the global free list never drops below
//   its refill target), so every result and all contents must agree.
// - LRU_HASH, small (8 entries, 40 keys): the kernel's LRU is approximate (per-CPU free
//   lists, batch shrinking) and which keys survive differs by design; compared: the codes
//   that do not depend on presence (-EINVAL, and that no update ever fails with -E2BIG), that
//   neither map holds more than max_entries, and that a key just updated is present in both.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
  BPF_NOEXIST,
} from '../src/abi/bpf.js';
import { hasCode } from '../src/errors.js';
import { createMap, lookupAll, type LiveMap, type MapSpec } from '../src/ebpf/maps/index.js';
import { EINVAL, ENOENT } from '../src/ebpf/maps/errno.js';
import type { NativeAddon } from '../src/native/addon.js';

const BPF_F_NO_COMMON_LRU = 2;

/** Possible CPUs as the kernel counts them for per-CPU values (highest id + 1). */
function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8');
  return Math.max(...text.trim().split(',').map((r) => Number(r.split('-').pop()))) + 1;
}

/** The addon, or the reason these tests cannot run. */
async function kernel(): Promise<{ addon: NativeAddon } | { reason: string }> {
  let addon: NativeAddon;
  try {
    const mod = await import('../src/native/addon.js');
    addon = mod.loadAddon();
  } catch (e) {
    return { reason: `native addon not available: ${(e as Error).message}` };
  }
  const fd = addon.bpfMapCreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
  if (fd < 0) return { reason: `bpf(BPF_MAP_CREATE) not permitted here (${fd}): needs CAP_BPF or root` };
  addon.close(fd);
  return { addon };
}
const env = await kernel();

function withKernel(t: TestContext): NativeAddon | undefined {
  if ('reason' in env) {
    t.skip(env.reason);
    return undefined;
  }
  return env.addon;
}

const spec = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): MapSpec => ({
  name: 'diff',
  type,
  keySize,
  valueSize,
  maxEntries,
  flags,
});
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A seeded xorshift32. */
function rng(seed: number): (n: number) => number {
  let x = seed | 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

const isPerCpu = (t: number): boolean => t === BPF_MAP_TYPE_PERCPU_ARRAY || t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;

/** Kernel and model side by side. */
class Pair {
  readonly fd: number;
  readonly ours: LiveMap;
  readonly userValueSize: number;

  constructor(
    readonly k: NativeAddon,
    readonly s: MapSpec,
    cpus: number,
  ) {
    this.fd = k.bpfMapCreate(s.type, s.keySize, s.valueSize, s.maxEntries, s.flags);
    assert.ok(this.fd >= 0, `kernel map create: ${this.fd}`);
    this.ours = createMap(s, { possibleCpus: cpus });
    this.userValueSize = isPerCpu(s.type) ? Math.ceil(s.valueSize / 8) * 8 * cpus : s.valueSize;
  }
  close(): void {
    this.k.close(this.fd);
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): [number, number] {
    return [this.ours.update(key, value, flags), this.k.bpfMapUpdate(this.fd, key, value, flags)];
  }
  delete(key: Uint8Array): [number, number] {
    return [this.ours.delete(key), this.k.bpfMapDelete(this.fd, key)];
  }
  lookupKernel(key: Uint8Array): Uint8Array | number {
    const v = new Uint8Array(this.userValueSize);
    const r = this.k.bpfMapLookup(this.fd, key, v);
    return r === 0 ? v : r;
  }
  lookupOurs(key: Uint8Array): Uint8Array | number {
    return lookupAll(this.ours, key) ?? -ENOENT;
  }
  kernelKeys(): string[] {
    const out: string[] = [];
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(this.s.keySize);
      const r = this.k.bpfMapGetNextKey(this.fd, prev, next);
      if (r === -ENOENT) break;
      assert.equal(r, 0, 'get_next_key');
      out.push(hex(next));
      prev = next;
      assert.ok(out.length <= this.s.maxEntries, 'kernel key iteration terminates');
    }
    return out.sort();
  }
  /** Same keys and, for each, the same value. */
  assertSameContents(what: string): void {
    const ks = this.kernelKeys();
    assert.deepEqual(this.ours.keys().map(hex).sort(), ks, `${what}: keys`);
    for (const h of ks) {
      const key = Uint8Array.from(Buffer.from(h, 'hex'));
      assert.deepEqual(this.lookupOurs(key), this.lookupKernel(key), `${what}: value of ${h}`);
    }
  }
}

interface Config {
  name: string;
  spec: MapSpec;
  /** Number of distinct keys drawn from. */
  keySpace: number;
  ops: number;
}

const FLAGS = [BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, 3, 8];

function keyOf(s: MapSpec, i: number): Uint8Array {
  const k = new Uint8Array(s.keySize);
  new DataView(k.buffer).setUint32(0, i, true);
  for (let j = 4; j < k.length; j++) k[j] = (i * 31 + j) & 0xff;
  return k;
}

const randomBytes = (rnd: (n: number) => number, n: number): Uint8Array => Uint8Array.from({ length: n }, () => rnd(256));

function runRandom(pair: Pair, cfg: Config, seed: number): void {
  const rnd = rng(seed);
  for (let i = 0; i < cfg.ops; i++) {
    const key = keyOf(cfg.spec, rnd(cfg.keySpace));
    const op = rnd(10);
    const at = `${cfg.name} op ${i}`;
    if (op < 5) {
      const flags = FLAGS[rnd(FLAGS.length)]!;
      const [ours, theirs] = pair.update(key, randomBytes(rnd, pair.userValueSize), flags);
      assert.equal(ours, theirs, `${at}: update ${hex(key)} flags ${flags}`);
    } else if (op < 8) {
      assert.deepEqual(pair.lookupOurs(key), pair.lookupKernel(key), `${at}: lookup ${hex(key)}`);
    } else {
      const [ours, theirs] = pair.delete(key);
      assert.equal(ours, theirs, `${at}: delete ${hex(key)}`);
    }
    if (i % 200 === 199) pair.assertSameContents(at);
  }
  pair.assertSameContents(`${cfg.name} end`);
}

describe('maps against the kernel (bpf(2))', () => {
  const cpus = possibleCpus();

  it('BPF_MAP_CREATE accepts and refuses the same specs', (t) => {
    const k = withKernel(t);
    if (!k) return;
    const cases: MapSpec[] = [
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4),
      spec(BPF_MAP_TYPE_HASH, 0, 8, 4),
      spec(BPF_MAP_TYPE_HASH, 4, 0, 4),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 0),
      spec(BPF_MAP_TYPE_HASH, 512, 8, 4),
      spec(BPF_MAP_TYPE_HASH, 513, 8, 4),
      spec(BPF_MAP_TYPE_HASH, 4, 4 << 20, 1),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_PREALLOC),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_MMAPABLE),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_COMMON_LRU),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_RDONLY_PROG),
      spec(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_RDONLY_PROG | (1 << 8)),
      spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, BPF_F_NO_PREALLOC),
      spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, BPF_F_NO_COMMON_LRU),
      spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 32768, 1),
      spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 32769, 1),
      spec(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 4),
      spec(BPF_MAP_TYPE_ARRAY, 4, 8, 4),
      spec(BPF_MAP_TYPE_ARRAY, 8, 8, 4),
      spec(BPF_MAP_TYPE_ARRAY, 4, 0, 4),
      spec(BPF_MAP_TYPE_ARRAY, 4, 8, 0),
      spec(BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_MMAPABLE),
      spec(BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_NO_PREALLOC),
      spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4, BPF_F_MMAPABLE),
      spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 32768, 1),
      spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 32769, 1),
      spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096),
      spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 65536),
      spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 3 * 4096),
      spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 2048),
      spec(BPF_MAP_TYPE_RINGBUF, 4, 0, 4096),
      spec(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, BPF_F_NO_PREALLOC),
    ];
    for (const s of cases) {
      const fd: number = k.bpfMapCreate(s.type, s.keySize, s.valueSize, s.maxEntries, s.flags);
      if (fd >= 0) k.close(fd);
      let ours = 'ok';
      try {
        createMap(s, { possibleCpus: cpus });
      } catch (e) {
        ours = hasCode(e, 'ERR_MAP_INVALID') ? 'invalid' : hasCode(e, 'ERR_MAP_TOO_LARGE') ? 'too large' : String(e);
      }
      // EINVAL (and ENOTSUPP, LRU without preallocation) → invalid; E2BIG → too large.
      const theirs: string = fd >= 0 ? 'ok' : fd === -7 ? 'too large' : fd === -EINVAL || fd === -524 ? 'invalid' : `errno ${fd}`;
      assert.equal(ours, theirs, `type ${s.type} key ${s.keySize} value ${s.valueSize} max ${s.maxEntries} flags 0x${s.flags.toString(16)}`);
    }
  });

  const configs: Config[] = [
    { name: 'HASH', spec: spec(BPF_MAP_TYPE_HASH, 4, 8, 16), keySpace: 40, ops: 3000 },
    { name: 'HASH odd sizes', spec: spec(BPF_MAP_TYPE_HASH, 6, 5, 8), keySpace: 20, ops: 2000 },
    { name: 'HASH no prealloc', spec: spec(BPF_MAP_TYPE_HASH, 8, 16, 10, BPF_F_NO_PREALLOC), keySpace: 25, ops: 2000 },
    { name: 'ARRAY', spec: spec(BPF_MAP_TYPE_ARRAY, 4, 12, 8), keySpace: 11, ops: 2000 },
    { name: 'PERCPU_ARRAY', spec: spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 4), keySpace: 6, ops: 2000 },
    { name: 'PERCPU_HASH', spec: spec(BPF_MAP_TYPE_PERCPU_HASH, 4, 12, 8), keySpace: 20, ops: 2000 },
    { name: 'LRU_HASH without eviction', spec: spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 1024), keySpace: 32, ops: 3000 },
  ];
  for (const cfg of configs) {
    it(`${cfg.name}: random operations give the same results and contents`, (t) => {
      const k = withKernel(t);
      if (!k) return;
      const pair = new Pair(k, cfg.spec, cpus);
      try {
        runRandom(pair, cfg, 0x5eed + cfg.ops + cfg.keySpace);
      } finally {
        pair.close();
      }
    });
  }

  it('LRU_HASH under eviction: same invariants on both', (t) => {
    const k = withKernel(t);
    if (!k) return;
    const s = spec(BPF_MAP_TYPE_LRU_HASH, 4, 8, 8);
    const pair = new Pair(k, s, cpus);
    try {
      const rnd = rng(77);
      let kernelEvicted = false;
      for (let i = 0; i < 2000; i++) {
        const key = keyOf(s, rnd(40));
        const flags = FLAGS[rnd(FLAGS.length)]!;
        if (rnd(4) === 0) {
          pair.delete(key);
          continue;
        }
        const [ours, theirs] = pair.update(key, randomBytes(rnd, 8), flags);
        const presenceFree = flags === BPF_ANY || flags === BPF_F_LOCK || flags === 3 || flags === 8;
        if (presenceFree) assert.equal(ours, theirs, `op ${i}: update flags ${flags}`);
        assert.notEqual(ours, -7, 'ours never -E2BIG');
        assert.notEqual(theirs, -7, 'kernel never -E2BIG');
        if (ours === 0) assert.ok(pair.lookupOurs(key) instanceof Uint8Array, `op ${i}: ours keeps the key just updated`);
        if (theirs === 0) assert.ok(pair.lookupKernel(key) instanceof Uint8Array, `op ${i}: kernel keeps the key just updated`);
        const nk = pair.kernelKeys().length;
        assert.ok(nk <= 8 && pair.ours.keys().length <= 8, `op ${i}: at most max_entries`);
        if (nk < 8 && i > 100) kernelEvicted = true;
      }
      // Our LRU only evicts when full, so it stays full once filled.
      assert.equal(pair.ours.keys().length <= 8, true);
      t.diagnostic(`kernel LRU held fewer than max_entries after filling: ${kernelEvicted}`);
    } finally {
      pair.close();
    }
  });

  it('per-CPU bpf(2) values use 8-byte slots for every possible CPU', (t) => {
    const k = withKernel(t);
    if (!k) return;
    const pair = new Pair(k, spec(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1), cpus);
    try {
      assert.equal(pair.userValueSize, 8 * cpus);
      const key = keyOf(pair.s, 0);
      const v = Uint8Array.from({ length: 8 * cpus }, (_, i) => i + 1);
      assert.deepEqual(pair.update(key, v, BPF_ANY), [0, 0]);
      assert.deepEqual(pair.lookupOurs(key), pair.lookupKernel(key));
      assert.deepEqual(pair.lookupOurs(key), v, 'padding bytes are stored too');
      assert.equal(k.bpfMapUpdate(pair.fd, key, new Uint8Array(4), BPF_ANY), -EINVAL, 'the addon refuses a short buffer');
    } finally {
      pair.close();
    }
  });
});

/**
 * @module filter
 * A loaded filter, ready to run: its maps are live (created from the object's MapSpecs, in
 * shared memory), its global variables settable, and it can spawn processes that run under it.
 * This is the library's main object, what `loadFilter` returns. Like a libbpf skeleton:
 * `const volatile` globals (.rodata) may be set until the first spawn, then the section is
 * frozen; .data/.bss globals and maps stay writable while the filter runs and the running
 * program sees the changes at once.
 *
 * Keys and values cross the API as numbers/bigints for integer sizes (1, 2, 4, 8 bytes,
 * little endian; 8-byte ones decode as bigint, smaller as number; signed when the BTF type
 * is) or as Uint8Array of exactly the right size otherwise.
 */
import { BPF_ANY, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH } from './abi/bpf.js';
import { findGlobal, setGlobal } from './ebpf/globals.js';
import type { ObjectSpec, ProgramSpec } from './ebpf/object.js';
import { createMap, type LiveMap } from './ebpf/maps/create.js';
import type { BpfMap, MapSpec } from './ebpf/maps/types.js';
import { SeccompEbpfError } from './errors.js';
import { spawnUnderFilter, type FilteredProcess, type SpawnOptions } from './spawn.js';
import { systemHost } from './sys/host.js';
import { loadProgram } from './ebpf/verifier/load.js';
import type { LoaderCredentials, SeccompExtendedHook, VerifiedProgram } from './ebpf/verifier/types.js';
import type { PrivilegeVariant } from './ebpf/verifier/privilege.js';
import { currentCredentials, kernelLockdown, systemLsm } from './sys/credentials.js';
import { splitProgram, type SplitOptions, type SplitResult } from './split/split.js';

/** A key or value as the API accepts it. */
export type MapScalar = number | bigint | Uint8Array;
/** A key or value as the API returns it (per-CPU values: one per possible CPU). */
export type MapValue = number | bigint | Uint8Array;

export interface MapEntry {
  key: MapValue;
  value: MapValue | MapValue[];
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 12: 'ENOMEM', 17: 'EEXIST', 22: 'EINVAL', 28: 'ENOSPC' };
const SIGNED_TYPE = /^(signed char|char|short|int|long|long long|short int|long int|long long int|__s8|__s16|__s32|__s64|s8|s16|s32|s64|int8_t|int16_t|int32_t|int64_t)$/;

const isSigned = (type: string | undefined): boolean => type !== undefined && SIGNED_TYPE.test(type.trim());
const isPerCpu = (spec: MapSpec): boolean =>
  spec.type === BPF_MAP_TYPE_PERCPU_ARRAY || spec.type === BPF_MAP_TYPE_PERCPU_HASH || spec.type === BPF_MAP_TYPE_LRU_PERCPU_HASH;

/**
 * Encodes `v` into `size` little-endian bytes. Integers must fit the size as a signed or an
 * unsigned value. Throws `code` otherwise.
 */
export function encodeScalar(v: MapScalar, size: number, what: string, code: string): Uint8Array {
  if (v instanceof Uint8Array) {
    if (v.length !== size) throw new SeccompEbpfError(code, `${what} must be ${size} bytes, got ${v.length}`);
    return v;
  }
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new SeccompEbpfError(code, `${what} must be an integer, got ${v}`);
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new SeccompEbpfError(code, `${what} must be a number, bigint or Uint8Array, got ${typeof v}`);
  if (size > 8 || size === 0) throw new SeccompEbpfError(code, `${what} is ${size} bytes: pass a Uint8Array`);
  const n = BigInt(v);
  const bits = BigInt(size * 8);
  if (n < -(1n << (bits - 1n)) || n >= 1n << bits) {
    throw new SeccompEbpfError(code, `${what} ${n} does not fit in ${size} byte${size > 1 ? 's' : ''}`);
  }
  const out = new Uint8Array(size);
  let u = BigInt.asUintN(size * 8, n);
  for (let i = 0; i < size; i++, u >>= 8n) out[i] = Number(u & 0xffn);
  return out;
}

/** Decodes bytes: 1/2/4-byte integers as number, 8-byte as bigint, anything else as a copy. */
export function decodeScalar(bytes: Uint8Array, signed: boolean): MapValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes.length) {
    case 1: return signed ? dv.getInt8(0) : dv.getUint8(0);
    case 2: return signed ? dv.getInt16(0, true) : dv.getUint16(0, true);
    case 4: return signed ? dv.getInt32(0, true) : dv.getUint32(0, true);
    case 8: return signed ? dv.getBigInt64(0, true) : dv.getBigUint64(0, true);
    default: return bytes.slice();
  }
}

function compareKeys(a: MapValue, b: MapValue): number {
  if (typeof a === 'object' || typeof b === 'object') return 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One of a filter's maps, seen from user space (bpf(2)-like access). */
export class FilterMap {
  /** @internal */
  constructor(
    private readonly live: BpfMap,
    private readonly cpus: number,
  ) {}

  get name(): string {
    return this.live.spec.name;
  }

  get spec(): MapSpec {
    return this.live.spec;
  }

  private key(k: MapScalar): Uint8Array {
    return encodeScalar(k, this.spec.keySize, `map "${this.name}": key`, 'ERR_MAP_KEY');
  }

  private decodeKey(k: Uint8Array): MapValue {
    return decodeScalar(k, isSigned(this.spec.keyType));
  }

  /** The value for `key` (per-CPU maps: one value per possible CPU), or undefined. */
  lookup(key: MapScalar): MapValue | MapValue[] | undefined {
    const k = this.key(key);
    const signed = isSigned(this.spec.valueType);
    if (isPerCpu(this.spec)) {
      if (!this.live.lookup(k, 0)) return undefined;
      const out: MapValue[] = [];
      for (let c = 0; c < this.cpus; c++) out.push(decodeScalar(this.live.lookup(k, c)!.slice(), signed));
      return out;
    }
    const v = this.live.lookup(k);
    return v === undefined ? undefined : decodeScalar(v.slice(), signed);
  }

  /**
   * BPF_MAP_UPDATE_ELEM. For per-CPU maps `value` is one value for every CPU or an array of one
   * value per possible CPU. `flags`: BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2).
   * Throws ERR_MAP_UPDATE with the errno (E2BIG when full, EEXIST/ENOENT for the flags, EPERM
   * for a frozen map).
   */
  update(key: MapScalar, value: MapScalar | MapScalar[], flags = BPF_ANY): void {
    const k = this.key(key);
    const size = this.spec.valueSize;
    let bytes: Uint8Array;
    if (isPerCpu(this.spec)) {
      const slot = Math.ceil(size / 8) * 8;
      const values = Array.isArray(value) ? value : new Array<MapScalar>(this.cpus).fill(value);
      if (values.length !== this.cpus) {
        throw new SeccompEbpfError('ERR_MAP_VALUE', `map "${this.name}": per-CPU value needs ${this.cpus} values, got ${values.length}`);
      }
      bytes = new Uint8Array(slot * this.cpus);
      values.forEach((v, c) => bytes.set(encodeScalar(v, size, `map "${this.name}": value`, 'ERR_MAP_VALUE'), c * slot));
    } else {
      if (Array.isArray(value)) throw new SeccompEbpfError('ERR_MAP_VALUE', `map "${this.name}": one value expected, got an array`);
      bytes = encodeScalar(value, size, `map "${this.name}": value`, 'ERR_MAP_VALUE');
    }
    const r = this.live.update(k, bytes, flags);
    if (r < 0) {
      const array = this.spec.type === BPF_MAP_TYPE_ARRAY || this.spec.type === BPF_MAP_TYPE_PERCPU_ARRAY;
      const hint = r === -7 ? (array ? ` (key ${String(key)} is not below max_entries ${this.spec.maxEntries})` : ` (the map is full: max_entries ${this.spec.maxEntries})`) : '';
      throw new SeccompEbpfError('ERR_MAP_UPDATE', `map "${this.name}": update failed: ${ERRNO_NAMES[-r] ?? `errno ${-r}`}${hint}`);
    }
  }

  /** BPF_MAP_DELETE_ELEM: true when the key was there. Arrays cannot delete (ERR_MAP_UPDATE, EINVAL). */
  delete(key: MapScalar): boolean {
    const r = this.live.delete(this.key(key));
    if (r === -2) return false;
    if (r < 0) throw new SeccompEbpfError('ERR_MAP_UPDATE', `map "${this.name}": delete failed: ${ERRNO_NAMES[-r] ?? `errno ${-r}`}`);
    return true;
  }

  /** Every key present, sorted when they are integers. */
  keys(): MapValue[] {
    return this.live.keys().map((k) => this.decodeKey(k)).sort(compareKeys);
  }

  /** Every entry, sorted by key when keys are integers. Arrays list only non-zero values. */
  entries(): MapEntry[] {
    const out: MapEntry[] = [];
    const array = this.spec.type === BPF_MAP_TYPE_ARRAY || this.spec.type === BPF_MAP_TYPE_PERCPU_ARRAY;
    for (const k of this.live.keys()) {
      const key = this.decodeKey(k);
      const value = this.lookup(k);
      if (value === undefined) continue;
      if (array && isZero(value)) continue;
      out.push({ key, value });
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }
}

function isZero(v: MapValue | MapValue[]): boolean {
  if (Array.isArray(v)) return v.every(isZero);
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  return v === 0 || v === 0n;
}

export interface GlobalInfo {
  name: string;
  /** Section map it lives in (".rodata", ".data", ".bss"...). */
  section: string;
  size: number;
  readOnly: boolean;
  type?: string;
  value: MapValue;
}

/** How a filter is loaded: who loads it decides what it may do (spec.md section 3). */
export interface FilterOptions {
  /** Size of per-CPU maps (default: this machine's possible CPUs). */
  possibleCpus?: number;
  /** The loader's credentials (default: this process's, see sys/credentials). */
  cred?: LoaderCredentials;
  /** The seccomp_extended LSM hook (default: Yama's policy when Yama is present, else permit). */
  lsm?: SeccompExtendedHook;
  /** 'rfc' (default) or 'repo' semantics where the series' two versions differ. */
  variant?: PrivilegeVariant;
  /** Verifier log level kept in `verified.log` (default 1: the failing path). */
  logLevel?: number;
}

/** A filter loaded from an object (see loadFilter in ./index.ts). */
export class Filter {
  readonly spec: ObjectSpec;
  readonly program: ProgramSpec;
  /** Where it came from (for messages). */
  readonly source: string | undefined;
  private readonly live: LiveMap[];
  private readonly cpus: number;
  private started = false;

  /** The program as the verifier accepted it for this loader (see ebpf/verifier/load). */
  readonly verified: VerifiedProgram;

  constructor(spec: ObjectSpec, program: ProgramSpec, opts: FilterOptions = {}) {
    this.spec = spec;
    this.program = program;
    this.source = spec.file;
    this.cpus = opts.possibleCpus ?? systemHost(() => {}).possibleCpus;
    // BPF_PROG_LOAD: every decision of the privilege model is taken now, in the loader's context
    // (spec.md 3.1-3.7), and nothing unverified ever reaches the supervisor.
    const variant = opts.variant ?? 'rfc';
    this.verified = loadProgram(program.insns, {
      maps: spec.maps,
      license: spec.license,
      cred: opts.cred ?? currentCredentials(),
      lsm: opts.lsm ?? systemLsm(variant),
      variant,
      lockdown: kernelLockdown(),
      logLevel: opts.logLevel ?? 1,
      ...(spec.file !== undefined ? { file: spec.file } : {}),
    });
    this.live = spec.maps.map((m) => createMap(m, { possibleCpus: this.cpus }));
  }

  /** True once a process was spawned (read-only globals are frozen then). */
  get running(): boolean {
    return this.started;
  }

  /** The whole value of a global-variable section map (live storage). */
  private sectionView(mapIndex: number): Uint8Array {
    const view = this.live[mapIndex]?.lookup(new Uint8Array(4));
    if (!view) throw new SeccompEbpfError('ERR_GLOBAL_UNKNOWN', `global section map ${mapIndex} has no value`, { file: this.source });
    return view;
  }

  /**
   * Sets a global variable (little endian, its own size). `const volatile` ones (.rodata) only
   * before the first spawn (ERR_GLOBAL_READONLY after); ERR_GLOBAL_UNKNOWN for a name the
   * object does not define; ERR_GLOBAL_RANGE when the value does not fit its type.
   */
  setGlobal(name: string, value: MapScalar): void {
    const g = findGlobal(this.spec, name);
    if (g.readOnly && this.started) {
      throw new SeccompEbpfError('ERR_GLOBAL_READONLY',
        `global "${name}" is const (in ${this.spec.maps[g.mapIndex]?.name}): set it before the filter starts`, { file: this.source });
    }
    // ebpf/globals checks and encodes; pointed at the live storage, it writes the running map.
    const live = { ...this.spec.maps[g.mapIndex]!, initialValue: this.sectionView(g.mapIndex) };
    setGlobal({ ...this.spec, maps: this.spec.maps.map((m, i) => (i === g.mapIndex ? live : m)) }, name, value);
  }

  /** Current value of a global (8-byte: bigint; 1/2/4-byte: number; else bytes). */
  getGlobal(name: string): MapValue {
    const g = findGlobal(this.spec, name);
    return decodeScalar(this.sectionView(g.mapIndex).slice(g.offset, g.offset + g.size), g.signed === true || isSigned(g.type));
  }

  /** Every global variable with its current value. */
  globals(): GlobalInfo[] {
    return this.spec.globals.map((g) => {
      const info: GlobalInfo = {
        name: g.name, section: this.spec.maps[g.mapIndex]?.name ?? '?', size: g.size, readOnly: g.readOnly, value: this.getGlobal(g.name),
      };
      if (g.type !== undefined) info.type = g.type;
      return info;
    });
  }

  /** Names of the object's maps (global-variable sections included, e.g. ".bss"). */
  mapNames(): string[] {
    return this.spec.maps.map((m) => m.name);
  }

  /** A map by name; ERR_MAP_UNKNOWN when there is none. */
  map(name: string): FilterMap {
    const i = this.spec.maps.findIndex((m) => m.name === name);
    if (i < 0) {
      const known = this.mapNames();
      throw new SeccompEbpfError('ERR_MAP_UNKNOWN',
        `no map "${name}" in the filter (${known.length ? `it has: ${known.join(', ')}` : 'it has none'})`, { file: this.source });
    }
    return new FilterMap(this.live[i]!, this.cpus);
  }

  /**
   * The maps and globals as plain data: `{ map: [{ key, value }...] }` for maps and, for each
   * global-variable section, `{ ".bss": { var: value } }`.
   */
  dump(): Record<string, MapEntry[] | Record<string, MapValue>> {
    const out: Record<string, MapEntry[] | Record<string, MapValue>> = {};
    this.spec.maps.forEach((m, i) => {
      const vars = this.spec.globals.filter((g) => g.mapIndex === i);
      if (m.initialValue !== undefined || vars.length > 0 || m.name.startsWith('.')) {
        const section: Record<string, MapValue> = {};
        for (const g of vars) section[g.name] = this.getGlobal(g.name);
        out[m.name] = section;
      } else {
        out[m.name] = this.map(m.name).entries();
      }
    });
    return out;
  }

  /**
   * The split of this filter with the current globals (see src/split): the classic-BPF filter
   * `spawn` installs in the kernel and, per syscall, what it decides there and what it sends
   * to the supervisor. Throws ERR_SPLIT_OPTIONS for bad options.
   */
  split(opts: SplitOptions = {}): SplitResult {
    const key0 = new Uint8Array(4);
    return splitProgram({ insns: this.verified.insns, maps: this.spec.maps, readOnlyValue: (i) => this.live[i]?.lookup(key0)?.slice() }, opts);
  }

  /**
   * Starts `file` with `args` under this filter (see spawnUnderFilter in ./spawn.ts): every
   * syscall of the process tree, from its execve on, runs the program. Read-only globals are
   * frozen from now on. Several processes may run under one filter; they share its maps.
   */
  spawn(file: string, args: readonly string[] = [], opts: SpawnOptions = {}): FilteredProcess {
    const child = spawnUnderFilter(
      { verified: this.verified, maps: this.live.map((m) => m.share()), ...(this.source !== undefined ? { source: this.source } : {}) },
      file, args, opts,
    );
    // The child is still blocked in its first execve (nobody answered yet): freezing now is in time.
    if (!this.started) {
      this.started = true;
      this.spec.maps.forEach((m, i) => {
        if (m.readOnly) (this.live[i] as { freeze?: () => void }).freeze?.();
      });
    }
    return child;
  }
}

/**
 * @module ebpf/verifier/calls
 * Helper calls (the kernel's check_helper_call / check_func_arg), bpf-to-bpf calls
 * (check_func_call) and exit (prepare_func_exit, check_reference_leak, check_return_code).
 *
 * A helper must be in the loader's table (restricted mode: none is). Each argument is checked
 * against the prototype: map handles (and the map types a helper accepts), key/value/memory
 * pointers to readable (or, for output buffers, writable) memory of the right size, bounded
 * sizes, constants, ring buffer records that were reserved and are not released yet, and the
 * series' task argument that only NULL (or, for privileged loaders, a task pointer) satisfies.
 * After the call r1-r5 hold nothing and r0 holds the result; map lookups and ring buffer
 * reservations return pointers that must be checked for NULL, reservations must be submitted
 * or discarded on every path.
 */
import {
  BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_TASK_STORAGE, MAX_CALL_FRAMES,
} from '../../abi/bpf.js';
import { BPF_MAX_VAR_SIZ, MAX_BPF_STACK, leaksPointer, readReg, regOf, setReg, type Env } from './env.js';
import { scalarConstValue, scalarUnknown, tnumFormat } from './domain.js';
import { reject } from './errors.js';
import { checkAllocated, mapAccessType, noteStackDepth, regionAccess, stackWrite } from './memory.js';
import {
  NOT_INIT, UNKNOWN, isKnownZero, mapValueReg, memReg, regTypeName, scalarReg, taskReg, type Reg,
} from './regs.js';
import { SLOT_INVALID, curFrame, forEachReg, newFrame, slotOf, type Frame } from './state.js';
import type { ArgType, HelperProto } from './types.js';
import { HELPER } from './protos.js';

/** The kernel's __BPF_FUNC_MAX_ID for the helper ids this verifier knows the names of. */
const MAX_FUNC_ID = 212;
const NAMES = new Map<number, string>(Object.entries(HELPER).map(([k, v]) => [v, `bpf_${k}`]));
const helperName = (id: number): string => NAMES.get(id) ?? 'unknown';

const GPL_COMPATIBLE = new Set(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL']);

/** Helpers a ring buffer / task storage map may be passed to (check_map_func_compatibility). */
const MAP_ONLY_FUNCS = new Map<number, readonly number[]>([
  [BPF_MAP_TYPE_RINGBUF, [HELPER.ringbuf_output, HELPER.ringbuf_reserve, HELPER.ringbuf_query]],
  [BPF_MAP_TYPE_TASK_STORAGE, [HELPER.task_storage_get, HELPER.task_storage_delete]],
]);

interface Meta {
  map: number;
  /** Register and kind of the last memory argument (for the size argument after it). */
  memRegno: number;
  memWrite: boolean;
  allocSize: number;
  release: number;
  /** Constant key of an array map lookup, or -1 (Linux 6.13+ then drops the NULL case). */
  constKey: number;
  /** Output buffer on the stack to mark initialised after the call: frame, offset, size. */
  raw?: { frame: Frame; off: number; size: number };
}

export function checkHelperCall(env: Env, id: number): void {
  const proto = env.opts.restricted ? undefined : env.opts.helpers.get(id);
  if (!proto) {
    if (id < 0 || id >= MAX_FUNC_ID) reject('ERR_VERIFY_HELPER_UNKNOWN', `invalid func ${helperName(id)}#${id}`);
    reject('ERR_VERIFY_HELPER_UNKNOWN', `program of this type cannot use helper ${helperName(id)}#${id}`);
  }
  if (proto.gplOnly && !GPL_COMPATIBLE.has(env.opts.license)) {
    reject('ERR_VERIFY_GPL', `cannot call GPL-restricted function ${proto.name}#${id} from non-GPL compatible program`);
  }
  const meta: Meta = { map: -1, memRegno: -1, memWrite: false, allocSize: -1, release: 0, constKey: -1 };
  proto.args.forEach((t, i) => checkArg(env, proto, t, i + 1, meta));

  if (meta.release) releaseReference(env, meta.release);
  if (meta.raw) {
    for (let i = 0; i < meta.raw.size; i++) stackWrite(env, meta.raw.frame, meta.raw.off + i, 1, { kind: 'unknown' });
  }
  for (let r = 1; r <= 5; r++) setReg(env, r, NOT_INIT);
  setReg(env, 0, returnValue(env, proto, meta));
}

function returnValue(env: Env, proto: HelperProto, meta: Meta): Reg {
  switch (proto.ret) {
    case 'integer': return UNKNOWN;
    case 'void': return NOT_INIT;
    case 'ptr_to_map_value_or_null':
      if (meta.map < 0) reject('ERR_VERIFY_HELPER_ARG', `kernel subsystem misconfigured verifier (${proto.name} returns a map value without a map argument)`);
      if (proto.id === HELPER.map_lookup_elem && meta.constKey >= 0 && meta.constKey < env.maps[meta.map]!.maxEntries) {
        return mapValueReg(meta.map, 0, false, 0);
      }
      return mapValueReg(meta.map, 0, true, env.newId());
    case 'ptr_to_alloc_mem_or_null': {
      if (meta.allocSize < 0) reject('ERR_VERIFY_HELPER_ARG', `kernel subsystem misconfigured verifier (${proto.name} has no size argument)`);
      const id = env.newId();
      env.st.refs = [...env.st.refs, { id, insn: env.pc }];
      return memReg(meta.allocSize, true, id, id);
    }
    case 'ptr_to_btf_id': return taskReg();
    default: return reject('ERR_VERIFY_HELPER_ARG', `${proto.name}: return type ${proto.ret} is not supported by this verifier`);
  }
}

function typeError(regno: number, r: Reg, expected: string): never {
  return reject('ERR_VERIFY_HELPER_ARG', `R${regno} type=${regTypeName(r)} expected=${expected}`);
}

const MEM_TYPES = 'fp, map_value, ringbuf_mem';

function checkArg(env: Env, proto: HelperProto, t: ArgType, regno: number, meta: Meta): void {
  const r = readReg(env, regno);
  switch (t) {
    case 'anything':
      if (leaksPointer(env, r)) reject('ERR_VERIFY_PTR_LEAK', `R${regno} leaks addr into helper function`);
      return;
    case 'const_map_ptr': {
      if (r.kind !== 'map_ptr') typeError(regno, r, 'map_ptr');
      const m = env.maps[r.map]!;
      const only = MAP_ONLY_FUNCS.get(m.type);
      if ((proto.mapTypes && !proto.mapTypes.includes(m.type)) || (only && !only.includes(proto.id))) {
        reject('ERR_VERIFY_HELPER_ARG', `cannot pass map_type ${m.type} into func ${proto.name}#${proto.id}`);
      }
      meta.map = r.map;
      return;
    }
    case 'ptr_to_map_key':
    case 'ptr_to_map_value':
    case 'ptr_to_map_value_or_null': {
      if (t === 'ptr_to_map_value_or_null' && isKnownZero(r)) return;
      const what = t === 'ptr_to_map_key' ? 'key' : 'value';
      if (meta.map < 0) reject('ERR_VERIFY_HELPER_ARG', `invalid map_ptr to access map->${what}`);
      const m = env.maps[meta.map]!;
      if (!isMem(r)) typeError(regno, r, MEM_TYPES);
      helperMem(env, regno, r, what === 'key' ? m.keySize : m.valueSize, false, false);
      if (what === 'key' && (m.type === BPF_MAP_TYPE_ARRAY || m.type === BPF_MAP_TYPE_PERCPU_ARRAY)) {
        meta.constKey = constantKey(env, r, m.keySize);
      }
      return;
    }
    case 'ptr_to_mem_or_null':
    case 'ptr_to_mem':
    case 'ptr_to_uninit_mem':
      if (!(t === 'ptr_to_mem_or_null' && isKnownZero(r)) && !isMem(r)) typeError(regno, r, MEM_TYPES);
      meta.memRegno = regno;
      meta.memWrite = t === 'ptr_to_uninit_mem';
      return;
    case 'const_size':
    case 'const_size_or_zero':
      return checkMemSize(env, regno, r, t === 'const_size_or_zero', meta);
    case 'const_alloc_size_or_zero': {
      if (r.kind !== 'scalar') typeError(regno, r, 'scalar');
      const c = scalarConstValue(r.v);
      if (c === undefined) reject('ERR_VERIFY_HELPER_ARG', `R${regno} is not a known constant'`);
      meta.allocSize = Number(c);
      return;
    }
    case 'ptr_to_alloc_mem': {
      if (r.kind !== 'mem' || r.nullable) typeError(regno, r, 'ringbuf_mem');
      if (r.off !== 0) reject('ERR_VERIFY_HELPER_ARG', `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`);
      if (scalarConstValue(r.v) !== 0n) reject('ERR_VERIFY_HELPER_ARG', `variable ringbuf_mem access var_off=${tnumFormat(r.v.var)} disallowed`);
      if (!r.ref || !env.st.refs.some((x) => x.id === r.ref)) {
        reject('ERR_VERIFY_HELPER_ARG', `R${regno} must be referenced when passed to release function`);
      }
      meta.release = r.ref;
      return;
    }
    case 'ptr_to_btf_id_or_null':
      if (!isKnownZero(r) && (r.kind !== 'btf_id' || r.nullable)) typeError(regno, r, 'trusted_ptr_ or NULL');
      return;
    case 'ptr_to_btf_id':
      if (r.kind !== 'btf_id' || r.nullable) typeError(regno, r, 'trusted_ptr_');
      return;
    case 'ptr_to_ctx':
      if (r.kind !== 'ctx') typeError(regno, r, 'ctx');
      if (r.off !== 0 || scalarConstValue(r.v) !== 0n) reject('ERR_VERIFY_HELPER_ARG', `dereference of modified ctx ptr R${regno} off=${r.off} disallowed`);
      return;
    case 'ptr_to_const_str':
      return checkConstStr(env, regno, r);
    default:
      reject('ERR_VERIFY_HELPER_ARG', `${proto.name} argument ${regno} (${t}) is not supported by this verifier`);
  }
}

const isMem = (r: Reg): boolean => !r.nullable && (r.kind === 'stack' || r.kind === 'map_value' || r.kind === 'mem');

/**
 * The kernel's get_constant_map_key (bpf_capable only): the key on the stack is known zero bytes
 * or a spilled constant of exactly the key's size. -1 when not known.
 */
function constantKey(env: Env, r: Reg, keySize: number): number {
  if (!env.opts.bpfCapable || r.kind !== 'stack') return -1;
  const c = scalarConstValue(r.v);
  if (c === undefined) return -1;
  const { spi, j } = slotOf(r.off + Number(BigInt.asIntN(64, c)));
  const slot = env.st.frames[r.frame]!.stack[spi];
  if (!slot) return -1;
  let zeros = 0;
  for (let i = j; i >= 0 && slot.types[i] === '0'; i--) zeros++;
  if (zeros >= keySize) return 0;
  if (slot.types[7] !== 'r' || slot.spill?.kind !== 'scalar') return -1;
  let spilled = 0;
  for (let i = j; i >= 0 && slot.types[i] === 'r'; i--) spilled++;
  if (spilled !== keySize) return -1;
  const k = scalarConstValue(slot.spill.v);
  return k === undefined || k > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(k);
}

/** The kernel's check_mem_size_reg: the size of the preceding memory argument. */
function checkMemSize(env: Env, regno: number, r: Reg, zeroOk: boolean, meta: Meta): void {
  if (r.kind !== 'scalar') typeError(regno, r, 'scalar');
  if (meta.memRegno !== regno - 1) reject('ERR_VERIFY_HELPER_ARG', `R${regno} size argument without a memory argument before it`);
  const v = r.v;
  if (BigInt.asIntN(64, v.smin) < 0n) reject('ERR_VERIFY_HELPER_ARG', `R${regno} min value is negative, either use unsigned or 'var &= const'`);
  if (v.umin === 0n && !zeroOk) reject('ERR_VERIFY_HELPER_ARG', `R${regno} invalid zero-sized read: u64=[${v.umin},${v.umax}]`);
  if (v.umax >= BigInt(BPF_MAX_VAR_SIZ)) reject('ERR_VERIFY_HELPER_ARG', `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
  const mem = regOf(env, regno - 1);
  const size = Number(v.umax);
  // Only a constant size lets a helper initialise stack memory ("raw mode").
  const raw = meta.memWrite && scalarConstValue(v) !== undefined;
  if (size === 0 && isKnownZero(mem)) return;
  if (!isMem(mem)) typeError(regno - 1, mem, MEM_TYPES);
  const at = helperMem(env, regno - 1, mem, size, meta.memWrite, raw);
  if (raw && at) meta.raw = { frame: at.frame, off: at.off, size };
}

/**
 * Memory a helper reads (or writes, `write`) through `r`: `size` bytes at the pointer. Stack
 * bytes must be initialised unless `raw` (an output buffer of constant size). Returns the stack
 * location for raw output buffers.
 */
function helperMem(env: Env, regno: number, r: Reg, size: number, write: boolean, raw: boolean): { frame: Frame; off: number } | undefined {
  if (r.kind === 'map_value') {
    const m = env.maps[r.map]!;
    mapAccessType(env, r.map, r.off, size, write);
    regionAccess(regno, r, r.off, size, m.valueSize, true,
      (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`);
    return undefined;
  }
  if (r.kind === 'mem') {
    regionAccess(regno, r, r.off, size, r.size, true, (o) => `invalid access to memory, mem_size=${r.size} off=${o} size=${size}`);
    return undefined;
  }
  // Stack.
  const c = scalarConstValue(r.v);
  if (c === undefined) {
    reject('ERR_VERIFY_MEM_BOUNDS', `R${regno} variable offset stack access prohibited, var_off=${tnumFormat(r.v.var)}`);
  }
  const off = r.off + Number(BigInt.asIntN(64, c));
  if (off < -MAX_BPF_STACK || off + size > 0 || off >= 0) {
    reject('ERR_VERIFY_MEM_BOUNDS', `invalid indirect access to stack R${regno} off=${off} size=${size}`);
  }
  const frame = env.st.frames[r.frame]!;
  if (size === 0) return undefined;
  noteStackDepth(env, frame, off);
  if (raw) return { frame, off };
  checkAllocated(env, frame, regno, off, size);
  for (let i = 0; i < size; i++) {
    const { spi, j } = slotOf(off + i);
    const slot = frame.stack[spi];
    const ty = (slot?.types ?? SLOT_INVALID)[j]!;
    let ok = ty === 'm' || ty === '0' || (ty === '?' && env.allowUninitStack);
    if (ty === 'r') ok = slot!.spill?.kind === 'scalar' || env.opts.allowPtrLeaks;
    if (!ok) reject('ERR_VERIFY_UNINIT_STACK', `invalid read from stack R${regno} off ${off}+${i} size ${size}`);
  }
  if (write) {
    // The helper overwrites the buffer: what was known about its bytes is lost.
    for (let i = 0; i < size; i++) stackWrite(env, frame, off + i, 1, { kind: 'unknown' });
  }
  return undefined;
}

/** ARG_PTR_TO_CONST_STR: a NUL-terminated string in a read-only map value, at a constant offset. */
function checkConstStr(env: Env, regno: number, r: Reg): void {
  if (r.kind !== 'map_value' || r.nullable) typeError(regno, r, 'map_value');
  const m = env.maps[r.map]!;
  if (!m.readOnly || !m.initialValue) reject('ERR_VERIFY_HELPER_ARG', `R${regno} does not point to a readonly map'`);
  const c = scalarConstValue(r.v);
  if (c === undefined) reject('ERR_VERIFY_HELPER_ARG', `R${regno} is not a constant address'`);
  const off = r.off + Number(c);
  if (off < 0 || off >= m.valueSize) reject('ERR_VERIFY_MEM_BOUNDS', `invalid access to map value, value_size=${m.valueSize} off=${off} size=1`);
  if (m.initialValue.subarray(off, m.valueSize).indexOf(0) < 0) reject('ERR_VERIFY_HELPER_ARG', 'string is not zero-terminated');
}

/** release_reference: the record is gone; every copy of its pointer becomes unusable. */
function releaseReference(env: Env, ref: number): void {
  env.st.refs = env.st.refs.filter((x) => x.id !== ref);
  const dead = env.opts.allowPtrLeaks ? scalarReg(scalarUnknown()) : NOT_INIT;
  forEachReg(env.st, (r) => (r.ref === ref ? dead : undefined));
}

/** bpf-to-bpf call: a new frame whose r1-r5 are the caller's. Returns the callee's first insn. */
export function enterSubprog(env: Env, target: number): void {
  const frames = env.st.frames;
  if (frames.length >= MAX_CALL_FRAMES) {
    reject('ERR_VERIFY_STACK', `the call stack of ${frames.length + 1} frames is too deep`);
  }
  const caller = curFrame(env.st);
  const callee = newFrame(frames.length, env.pc, env.prog.subprogOf[target]!);
  for (let r = 1; r <= 5; r++) callee.regs[r] = caller.regs[r]!;
  for (let r = 0; r <= 5; r++) caller.regs[r] = NOT_INIT;
  frames.push(callee);
}

/**
 * exit. Returns the instruction to continue at (after the call site) or -1 when the program
 * ends here.
 */
export function checkExit(env: Env): number {
  const st = env.st;
  const f = curFrame(st);
  if (st.frames.length > 1) {
    const r0 = f.regs[0]!;
    if (r0.kind === 'stack') reject('ERR_VERIFY_RETURN', 'cannot return stack pointer to the caller');
    st.frames.pop();
    curFrame(st).regs[0] = r0;
    return f.callsite + 1;
  }
  if (st.refs.length) {
    const r = st.refs[0]!;
    reject('ERR_VERIFY_REF_LEAK', `Unreleased reference id=${r.id} alloc_insn=${r.insn}`);
  }
  const r0 = f.regs[0]!;
  if (r0.kind === 'not_init') reject('ERR_VERIFY_RETURN', 'R0 !read_ok');
  if (leaksPointer(env, r0)) reject('ERR_VERIFY_RETURN', 'R0 leaks addr as return value');
  return -1;
}

/**
 * @module ebpf/verifier/memory
 * Loads, stores and atomics through pointers (the kernel's check_mem_access and the stack
 * spill/fill logic of check_stack_write_fixed_off / check_stack_read_fixed_off):
 *
 *  - context: reads of whole seccomp_data fields only (spec.md 2.2), through an unmodified ctx
 *    pointer; any write or atomic is refused;
 *  - stack: inside [-512, 0) of the frame, aligned to the access size (the kernel is strict
 *    here on every architecture), constant offsets only; 8-byte slots track spilled registers,
 *    initialised and zero bytes; reading bytes never written is refused unless the loader may
 *    read uninitialised stack (CAP_PERFMON);
 *  - map values: inside value_size, counting the variable offset's bounds; read/write
 *    permission (.rodata read-only, none at all in restricted mode); constant reads from
 *    .rodata give the constant, as the kernel does for frozen read-only maps;
 *  - ring buffer records: inside the reserved size.
 */
import { BPF_MAX_VAR_OFF, MAX_BPF_STACK, leaksPointer, type Env } from './env.js';
import { scalarConstValue, scalarFromLoad, scalarTruncate, tnumFormat, type Scalar } from './domain.js';
import type { Size } from '../opcodes.js';
import { reject } from './errors.js';
import { NOT_INIT, UNKNOWN, constReg, isKnownZero, regTypeName, scalarReg, withReg, type Reg } from './regs.js';
import { SLOT_INVALID, isSpilled, slotOf, type Frame, type Slot } from './state.js';

/** What a store writes: a register, an immediate (BPF_ST), or bytes the verifier does not know. */
export type StoreValue =
  | { kind: 'reg'; regno: number; reg: Reg }
  | { kind: 'imm'; value: bigint }
  | { kind: 'unknown' };

/** Fields of struct seccomp_data a program may read: offset -> size. */
const CTX_FIELDS = new Map<number, number>([[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 8], [48, 8], [56, 8]]);

const U64 = (1n << 64n) - 1n;

/** The kernel's coerce_reg_to_size / coerce_reg_to_size_sx for a loaded scalar. */
export function coerce(v: Scalar, size: Size, signed: boolean): Scalar {
  return size === 8 ? v : scalarTruncate(v, size, signed);
}

export interface AccessOpts {
  /** Sign-extending load (LDX MEMSX). */
  signed?: boolean;
  /** Part of an atomic read-modify-write: strict alignment everywhere. */
  atomic?: boolean;
  /** A read whose value goes nowhere (the first check of an atomic): a spilled pointer may not be read as data. */
  noDst?: boolean;
}

/**
 * Checks a load (`value` undefined) or store through register `regno` at `regno.off + off`
 * and returns the loaded register for loads. `atomic` adds the atomic-specific rules (strict
 * alignment).
 */
export function memAccess(env: Env, regno: number, off: number, size: Size,
  value: StoreValue | undefined, opts: AccessOpts = {}): Reg {
  const reg = env.st.frames[env.st.frames.length - 1]!.regs[regno]!;
  const write = value !== undefined;
  if (reg.nullable) reject('ERR_VERIFY_NULL_DEREF', `R${regno} invalid mem access '${regTypeName(reg)}'`);
  switch (reg.kind) {
    case 'ctx': return ctxAccess(env, regno, reg, off, size, value, opts.signed ?? false);
    case 'stack': return stackAccess(env, regno, reg, off, size, value, opts);
    case 'map_value': return mapValueAccess(env, regno, reg, off, size, value, opts);
    case 'mem': return memRecordAccess(env, regno, reg, off, size, value, opts);
    default:
      return reject(write || reg.kind !== 'not_init' ? 'ERR_VERIFY_MEM_TYPE' : 'ERR_VERIFY_UNINIT_REG',
        reg.kind === 'not_init' ? `R${regno} !read_ok` : `R${regno} invalid mem access '${regTypeName(reg)}'`);
  }
}

function ctxAccess(env: Env, regno: number, reg: Reg, off: number, size: Size, value: StoreValue | undefined, signed: boolean): Reg {
  if (value?.kind === 'reg' && leaksPointer(env, value.reg)) reject('ERR_VERIFY_PTR_LEAK', `R${value.regno} leaks addr into ctx`);
  if (reg.off !== 0) reject('ERR_VERIFY_CTX_ACCESS', `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
  if (scalarConstValue(reg.v) !== 0n) reject('ERR_VERIFY_CTX_ACCESS', `variable ctx access var_off=${tnumFormat(reg.v.var)} disallowed`);
  if (value !== undefined || CTX_FIELDS.get(off) !== size) {
    reject('ERR_VERIFY_CTX_ACCESS', `invalid bpf_context access off=${off} size=${size}`);
  }
  return scalarReg(scalarFromLoad(size, signed));
}

function stackAccess(env: Env, regno: number, reg: Reg, insnOff: number, size: Size,
  value: StoreValue | undefined, opts: AccessOpts): Reg {
  const c = scalarConstValue(reg.v);
  const what = value === undefined ? 'read from' : 'write to';
  if (c === undefined) {
    reject('ERR_VERIFY_MEM_BOUNDS', `R${regno} variable offset stack access prohibited, var_off=${tnumFormat(reg.v.var)}`);
  }
  const off = Number(BigInt.asIntN(64, c)) + reg.off + insnOff;
  if (size > 1 && off % size !== 0) {
    reject('ERR_VERIFY_MEM_BOUNDS', `misaligned stack access off ${varText(reg.v)}+${reg.off}+${insnOff} size ${size}`);
  }
  if (off < -MAX_BPF_STACK || off + size > 0) {
    reject('ERR_VERIFY_MEM_BOUNDS', `invalid ${what} stack R${regno} off=${off} size=${size}`);
  }
  const frame = env.st.frames[reg.frame]!;
  if (value === undefined) checkAllocated(env, frame, regno, off, size);
  noteStackDepth(env, frame, off);
  if (value === undefined) return stackRead(env, frame, off, size, opts.signed ?? false, !opts.noDst);
  stackWrite(env, frame, off, size, value);
  return NOT_INIT;
}

/**
 * Reads below the deepest slot ever written (the kernel's allocated_stack) fail with the bounds
 * message, unless uninitialised stack may be read.
 */
export function checkAllocated(env: Env, frame: Frame, regno: number, off: number, size: number): void {
  if (!env.allowUninitStack && off < -frame.stack.length * 8) {
    reject('ERR_VERIFY_UNINIT_STACK', `invalid read from stack R${regno} off=${off} size=${size}`);
  }
}

export function noteStackDepth(env: Env, frame: Frame, off: number): void {
  const sub = frame.subprog;
  if (env.stackDepth[sub]! < -off) env.stackDepth[sub] = -off;
}

/** Replaces the types of bytes [from, to) of a slot's type string (indices into `types`). */
function setTypes(types: string, from: number, to: number, t: string): string {
  return types.slice(0, from) + t.repeat(to - from) + types.slice(to);
}

/**
 * Writes `size` bytes at frame offset `off` (aligned, in bounds). Mirrors the kernel's
 * check_stack_write_fixed_off, including its privilege differences: only bpf_capable loaders
 * keep scalars spilled; others store them as initialised bytes.
 */
export function stackWrite(env: Env, frame: Frame, off: number, size: number, value: StoreValue): void {
  const { spi, j } = slotOf(off);
  const old: Slot = frame.stack[spi] ?? { types: SLOT_INVALID, spill: null };
  const cur = env.st.frames[env.st.frames.length - 1]!;
  const src = value.kind === 'reg' ? value.reg : undefined;
  if (!env.opts.allowPtrLeaks && isSpilled(old) && old.spill && old.spill.kind !== 'scalar' && size !== 8) {
    reject('ERR_VERIFY_PTR_LEAK', 'attempt to corrupt spilled pointer on stack');
  }
  const aligned = off % 8 === 0;
  const bpfCap = env.opts.bpfCapable;
  if (src && src.kind === 'scalar' && aligned && bpfCap) {
    // A spilled scalar keeps its bounds (and its link to copies when the value fits).
    let spill = src;
    const fits = bitWidth(src.v) <= size * 8;
    if (fits && value.kind === 'reg' && src.id === 0) {
      spill = withReg(src, { id: env.newId() });
      cur.regs[value.regno] = spill;
    }
    if (!fits) spill = withReg(spill, { id: 0 });
    frame.stack[spi] = spillSlot(old, spill, size);
    return;
  }
  if (value.kind === 'imm' && aligned && bpfCap) {
    frame.stack[spi] = spillSlot(old, constReg(value.value), size);
    return;
  }
  if (src && src.kind !== 'scalar') {
    if (size !== 8) reject('ERR_VERIFY_MEM_TYPE', 'invalid size of register spill');
    if (src.kind === 'stack' && frame !== cur) {
      reject('ERR_VERIFY_MEM_TYPE', 'cannot spill pointers to stack into stack frame of the caller');
    }
    frame.stack[spi] = spillSlot(old, src, 8);
    return;
  }
  // Plain data: a spilled register in this slot is gone.
  let types = isSpilled(old) || old.types.includes('r') ? old.types.replace(/r/g, 'm') : old.types;
  const zero = (src && isKnownZero(src)) || (value.kind === 'imm' && value.value === 0n);
  types = setTypes(types, j - size + 1, j + 1, zero ? '0' : 'm');
  frame.stack[spi] = { types, spill: null };
}

/** The kernel's save_register_state: the low `size` bytes of the slot hold the spill. */
function spillSlot(old: Slot, reg: Reg, size: number): Slot {
  let types = '';
  for (let i = 0; i < 8; i++) {
    if (i >= 8 - size) types += 'r';
    else {
      const t = old.types[i]!;
      types += t === '0' || t === '?' ? t : 'm';
    }
  }
  return { types, spill: reg };
}

/** Number of significant bits of the largest value (the kernel's get_reg_width). */
function bitWidth(v: Scalar): number {
  return v.umax === 0n ? 0 : v.umax.toString(2).length;
}

/**
 * Reads `size` bytes at frame offset `off` (aligned, in bounds), as check_stack_read_fixed_off.
 * With `toReg` false the value is only checked (atomics, helper reads), not produced.
 */
export function stackRead(env: Env, frame: Frame, off: number, size: Size, signed: boolean, toReg: boolean): Reg {
  const { spi, j } = slotOf(off);
  const slot: Slot = frame.stack[spi] ?? { types: SLOT_INVALID, spill: null };
  if (isSpilled(slot) && slot.spill) {
    const spill = slot.spill;
    let spillSize = 1;
    for (let i = 7; i > 0 && slot.types[i - 1] === 'r'; i--) spillSize++;
    if (size !== 8 || spillSize !== 8) {
      if (spill.kind !== 'scalar' && spill.kind !== 'not_init') reject('ERR_VERIFY_MEM_TYPE', 'invalid size of register fill');
      if (size <= spillSize && off % 8 === 0) {
        if (spill.kind === 'not_init') return NOT_INIT;
        const r = bitWidth(spill.v) > size * 8 ? withReg(spill, { id: 0 }) : spill;
        return finishLoad(r, size, signed);
      }
      let spilled = 0, zeros = 0;
      for (let i = 0; i < size; i++) {
        const t = slot.types[j - i]!;
        if (t === 'r') spilled++;
        else if (t === '0') zeros++;
        else if (t !== 'm' && !(t === '?' && env.allowUninitStack)) {
          reject('ERR_VERIFY_UNINIT_STACK', `invalid read from stack off ${off}+${i} size ${size}`);
        }
      }
      if ((spilled === size && spill.kind === 'scalar' && scalarConstValue(spill.v) === 0n) || zeros === size) return constReg(0n);
      return finishLoad(UNKNOWN, size, signed);
    }
    if (!toReg && spill.kind !== 'scalar' && !env.opts.allowPtrLeaks) {
      reject('ERR_VERIFY_PTR_LEAK', `leaking pointer from stack off ${off}`);
    }
    return spill;
  }
  let zeros = 0;
  for (let i = 0; i < size; i++) {
    const t = slot.types[j - i]!;
    if (t === '0') zeros++;
    else if (t !== 'm' && !(t === '?' && env.allowUninitStack)) {
      reject('ERR_VERIFY_UNINIT_STACK', `invalid read from stack off ${off}+${i} size ${size}`);
    }
  }
  return zeros === size ? constReg(0n) : finishLoad(UNKNOWN, size, signed);
}

function finishLoad(r: Reg, size: Size, signed: boolean): Reg {
  if (r.kind !== 'scalar' || size >= 8) return r;
  const v = r === UNKNOWN ? scalarFromLoad(size, signed) : coerce(r.v, size, signed);
  return v === r.v ? r : withReg(r, { v, id: signed ? 0 : r.id });
}

/**
 * The kernel's check_mem_region_access: `size` bytes at `off` (fixed offset including the
 * pointer's) plus the variable offset's bounds must lie inside [0, memSize).
 */
export function regionAccess(regno: number, reg: Reg, off: number, size: number, memSize: number,
  zeroOk: boolean, describe: (off: number) => string): void {
  const v = reg.v;
  const smin = BigInt.asIntN(64, v.smin);
  const inRange = (o: bigint): boolean => (size > 0 || (size === 0 && zeroOk)) && o >= 0n && o + BigInt(size) <= BigInt(memSize);
  const S64_MIN = -(1n << 63n);
  if (smin < 0n && (smin === S64_MIN || BigInt(off) + smin !== BigInt.asIntN(32, BigInt(off) + smin) || smin + BigInt(off) < 0n)) {
    reject('ERR_VERIFY_MEM_BOUNDS', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  const lo = smin + BigInt(off);
  if (!inRange(lo)) reject('ERR_VERIFY_MEM_BOUNDS', `${describe(Number(lo))}`);
  if (v.umax >= BigInt(BPF_MAX_VAR_OFF)) {
    reject('ERR_VERIFY_MEM_BOUNDS', `R${regno} unbounded memory access, make sure to bounds check any such access`);
  }
  const hi = v.umax + BigInt(off);
  if (!inRange(hi)) reject('ERR_VERIFY_MEM_BOUNDS', `${describe(Number(hi))}`);
}

/** read / write permission on a map value (check_map_access_type). */
export function mapAccessType(env: Env, mapIndex: number, off: number, size: number, write: boolean): void {
  const m = env.maps[mapIndex]!;
  if (write && (env.opts.restricted || m.readOnly)) {
    reject('ERR_VERIFY_MAP_ACCESS', `write into map forbidden, value_size=${m.valueSize} off=${off} size=${size}`);
  }
  if (!write && env.opts.restricted) {
    reject('ERR_VERIFY_MAP_ACCESS', `read from map forbidden, value_size=${m.valueSize} off=${off} size=${size}`);
  }
}

function mapValueAccess(env: Env, regno: number, reg: Reg, insnOff: number, size: Size,
  value: StoreValue | undefined, opts: AccessOpts): Reg {
  const m = env.maps[reg.map]!;
  const off = reg.off + insnOff;
  if (value?.kind === 'reg' && leaksPointer(env, value.reg)) reject('ERR_VERIFY_PTR_LEAK', `R${value.regno} leaks addr into map`);
  if (opts.atomic) atomicAlignment(regno, reg, insnOff, size, 'value ');
  mapAccessType(env, reg.map, off, size, value !== undefined);
  regionAccess(regno, reg, off, size, m.valueSize, false,
    (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`);
  if (value !== undefined) return NOT_INIT;
  const c = scalarConstValue(reg.v);
  if (m.readOnly && m.initialValue && c !== undefined) {
    const at = off + Number(c);
    let x = 0n;
    for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(m.initialValue[at + i] ?? 0);
    if (opts.signed) x = BigInt.asUintN(64, BigInt.asIntN(size * 8, x));
    return constReg(x & U64);
  }
  return scalarReg(scalarFromLoad(size, opts.signed ?? false));
}

function memRecordAccess(env: Env, regno: number, reg: Reg, insnOff: number, size: Size,
  value: StoreValue | undefined, opts: AccessOpts): Reg {
  const off = reg.off + insnOff;
  if (value?.kind === 'reg' && leaksPointer(env, value.reg)) reject('ERR_VERIFY_PTR_LEAK', `R${value.regno} leaks addr into mem`);
  if (opts.atomic) atomicAlignment(regno, reg, insnOff, size, '');
  regionAccess(regno, reg, off, size, reg.size, false,
    (o) => `invalid access to memory, mem_size=${reg.size} off=${o} size=${size}`);
  return value === undefined ? scalarReg(scalarFromLoad(size, opts.signed ?? false)) : NOT_INIT;
}

/** A variable offset as the kernel's alignment messages print it: the value when constant. */
function varText(v: Scalar): string {
  const c = scalarConstValue(v);
  return c !== undefined ? String(BigInt.asIntN(64, c)) : tnumFormat(v.var);
}

/** Atomics are always strictly aligned (check_atomic passes strict_alignment_once). */
function atomicAlignment(regno: number, reg: Reg, insnOff: number, size: number, desc: string): void {
  const v = reg.v.var;
  const total = BigInt(reg.off + insnOff);
  const lowKnown = (BigInt(size) - 1n) & v.mask;
  if (lowKnown !== 0n || (v.value + total) % BigInt(size) !== 0n) {
    reject('ERR_VERIFY_MEM_BOUNDS', `misaligned ${desc}access off ${varText(reg.v)}+${reg.off}+${insnOff} size ${size}`);
  }
  void regno;
}

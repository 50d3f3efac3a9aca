/**
 * @module ebpf/helpers/printk
 * bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3) with the kernel's format rules
 * (bpf_bprintf_prepare in kernel/bpf/helpers.c, then bstr_printf):
 *
 * - fmt must contain a NUL within fmt_size; ASCII control characters other than whitespace
 *   are -EINVAL (bytes >= 0x80 pass: checked against Linux 6.18, which accepts them);
 * - at most 3 conversions; each is `%[flags][width]conv` with flags from "0+- ", a width,
 *   and conv one of d i u x X (optionally l or ll), c, s, p, pK px ps pS pB, pks pus,
 *   pI4 pi4 pI6 pi6; `%%` prints a percent sign; anything else (precision, `#`, `%h`,
 *   `%ld` with a bad letter...) is -EINVAL;
 * - 32-bit conversions use the low 32 bits of the argument;
 * - letters and digits right after any %p conversion are not printed (vsprintf skips them);
 * - a width pads %d-style numbers, %c, %s and %p/%px/%pK/%ps/%pS, but not the strings the
 *   kernel pre-formats (%pks, %pus, %pI4/%pi4/%pI6/%pi6, %pB);
 * - strings (%s, %pks: program memory; %pus: the task's memory) that cannot be read print as
 *   empty; strings and arguments share the kernel's 512-byte staging buffer
 *   (MAX_BPRINTF_BIN_ARGS), so long strings are truncated and an exhausted buffer is -ENOSPC;
 * - the output is cut at 1023 bytes (MAX_BPRINTF_BUF - 1) and the return value is the
 *   untruncated length (the return value of bstr_printf).
 *
 * Differences: %p and %pK print the raw value where the kernel prints a hashed one, so with
 * an explicit width below 16 the length may differ; %ps, %pS and %pB print 0x<hex> (the
 * kernel's output when no kernel symbol matches, always the case here). The line handed to
 * HostServices.tracePrintk ends at the first NUL and drops one trailing newline. The return
 * values of these rules are compared against the running kernel in test/ebpf-helpers.test.ts.
 */
import { EINVAL, ENOSPC } from '../maps/errno.js';
import type { HelperEnv } from '../vm/types.js';
import { readUserString } from './probe.js';
import { readVmString, ret, u32 } from './util.js';

/** Size of the formatted output buffer (include/linux/bpf.h). */
export const MAX_BPRINTF_BUF = 1024;
/** Size of the staging buffer for copied arguments and strings. */
export const MAX_BPRINTF_BIN_ARGS = 512;
export const MAX_TRACE_PRINTK_VARARGS = 3;

/** Where %s-style strings and %pI bytes come from. */
export interface BprintfSources {
  /** String at a kernel pointer (here: program memory), as strncpy_from_kernel_nofault. */
  kernelString(addr: bigint, count: number): Uint8Array | undefined;
  /** String at a user pointer (the task's memory), as strncpy_from_user_nofault. */
  userString(addr: bigint, count: number): Uint8Array | undefined;
  /** `len` bytes at a kernel pointer, as copy_from_kernel_nofault. */
  kernelBytes(addr: bigint, len: number): Uint8Array | undefined;
}

export interface BprintfResult {
  /** Output, at most MAX_BPRINTF_BUF - 1 bytes. */
  bytes: Uint8Array;
  /** Length of the untruncated output (bstr_printf's return value). */
  length: number;
}

const ch = (s: string): number => s.charCodeAt(0);
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
const isPunct = (c: number): boolean => isPrint(c) && c !== 0x20 && !isAlnum(c);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  width: number; // -1: none
}

/** Pre-formatted strings (%pks, %pus, %pI4..., %pB) are printed without width padding. */
const NO_WIDTH: Spec = { left: false, plus: false, space: false, zero: false, width: -1 };

const enc = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** vsprintf's number(): sign, then zero or space padding to the width. */
function formatNumber(spec: Spec, digits: string, negative: boolean, signed: boolean, out: number[]): void {
  let sign = '';
  if (signed) {
    if (negative) sign = '-';
    else if (spec.plus) sign = '+';
    else if (spec.space) sign = ' ';
  }
  const zero = spec.zero && !spec.left;
  let pad = Math.max(0, spec.width - sign.length - digits.length);
  if (!spec.left && !zero) {
    for (; pad > 0; pad--) out.push(0x20);
  }
  out.push(...enc(sign));
  if (zero) {
    for (; pad > 0; pad--) out.push(0x30);
  }
  out.push(...enc(digits));
  for (; pad > 0; pad--) out.push(0x20);
}

/** vsprintf's string()/widen_string(): space padding only. */
function formatString(spec: Spec, bytes: ArrayLike<number>, out: number[]): void {
  const pad = Math.max(0, spec.width - bytes.length);
  if (!spec.left) for (let i = 0; i < pad; i++) out.push(0x20);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
  if (spec.left) for (let i = 0; i < pad; i++) out.push(0x20);
}

function ipString(kind: number, family: number, b: Uint8Array): string {
  if (family === ch('4')) {
    const parts = Array.from(b, (x) => (kind === ch('i') ? String(x).padStart(3, '0') : String(x)));
    return parts.join('.');
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, '0'));
  return kind === ch('i') ? groups.join('') : groups.join(':');
}

/**
 * Formats like bpf_trace_printk: returns the output or a negative errno (-EINVAL for a bad
 * format, -ENOSPC when the staging buffer is exhausted).
 */
export function bprintf(fmtBytes: Uint8Array, args: readonly bigint[], src: BprintfSources): BprintfResult | number {
  const end = fmtBytes.indexOf(0);
  if (end < 0) return -EINVAL;
  const f = (i: number): number => (i < end ? fmtBytes[i]! : 0);
  const out: number[] = [];
  let tmp = 0; // bytes used in the staging buffer
  let numSpec = 0;
  let swallow = false; // after a %p conversion: letters and digits are not printed
  for (let i = 0; i < end; i++) {
    const c = f(i);
    if (c < 0x80 && !isPrint(c) && !isSpace(c)) return -EINVAL;
    if (c !== ch('%')) {
      if (swallow && isAlnum(c)) continue;
      swallow = false;
      out.push(c);
      continue;
    }
    swallow = false;
    if (f(i + 1) === ch('%')) {
      out.push(c);
      i++;
      continue;
    }
    if (numSpec >= MAX_TRACE_PRINTK_VARARGS) return -EINVAL;
    i++;
    const spec: Spec = { left: false, plus: false, space: false, zero: false, width: -1 };
    for (;;) {
      const x = f(i);
      if (x === ch('0')) spec.zero = true;
      else if (x === ch('+')) spec.plus = true;
      else if (x === ch('-')) spec.left = true;
      else if (x === ch(' ')) spec.space = true;
      else break;
      i++;
    }
    if (f(i) >= ch('1') && f(i) <= ch('9')) {
      spec.width = 0;
      while (isDigit(f(i))) spec.width = Math.min(spec.width * 10 + (f(i++) - 0x30), 4096);
    }
    const arg = args[numSpec] ?? 0n;
    // Staging space for a copied argument of `size` bytes (4-byte aligned).
    const stageArg = (size: number): boolean => {
      tmp = Math.ceil(tmp / 4) * 4;
      if (MAX_BPRINTF_BIN_ARGS - tmp < size) return false;
      tmp += size;
      return true;
    };
    const conv = f(i);
    let str: { kind: number } | undefined;
    if (conv === ch('p')) {
      const next = f(i + 1);
      if (next === 0 || isSpace(next) || isPunct(next)) {
        if (!stageArg(8)) return -ENOSPC;
        const raw = spec.width < 0 ? { ...spec, width: 16, zero: true } : spec;
        formatNumber(raw, arg.toString(16), false, false, out);
        numSpec++;
        continue;
      }
      if ((next === ch('k') || next === ch('u')) && f(i + 2) === ch('s')) {
        i += 2;
        str = { kind: next };
      } else if (next === ch('K') || next === ch('x') || next === ch('s') || next === ch('S') || next === ch('B')) {
        i++;
        const sym = enc(`0x${arg.toString(16)}`);
        if (next === ch('B')) {
          // Pre-formatted into the staging buffer as a string.
          tmp = Math.min(MAX_BPRINTF_BIN_ARGS, tmp + sym.length + 1);
        } else if (!stageArg(8)) {
          return -ENOSPC;
        }
        if (next === ch('K') || next === ch('x')) {
          const raw = spec.width < 0 ? { ...spec, width: 16, zero: true } : spec;
          formatNumber(raw, arg.toString(16), false, false, out);
        } else {
          formatString(next === ch('B') ? NO_WIDTH : spec, sym, out);
        }
        swallow = true;
        numSpec++;
        continue;
      } else if ((next === ch('i') || next === ch('I')) && (f(i + 2) === ch('4') || f(i + 2) === ch('6'))) {
        const family = f(i + 2);
        i += 2;
        const n = family === ch('4') ? 4 : 16;
        if (MAX_BPRINTF_BIN_ARGS - tmp < n) return -ENOSPC;
        const ip = src.kernelBytes(arg, n) ?? new Uint8Array(n);
        const text = enc(ipString(next, family, ip));
        // snprintf into the remaining staging space, then skip past its NUL.
        const room = MAX_BPRINTF_BIN_ARGS - tmp;
        const kept = text.slice(0, Math.max(0, room - 1));
        tmp = Math.min(MAX_BPRINTF_BIN_ARGS, tmp + text.length + 1);
        formatString(NO_WIDTH, kept, out);
        swallow = true;
        numSpec++;
        continue;
      } else {
        return -EINVAL;
      }
    } else if (conv === ch('s')) {
      str = { kind: ch('s') };
    }
    if (str) {
      const after = f(i + 1);
      if (after !== 0 && !isSpace(after) && !isPunct(after)) return -EINVAL;
      if (tmp === MAX_BPRINTF_BIN_ARGS) return -ENOSPC;
      const room = MAX_BPRINTF_BIN_ARGS - tmp;
      const s = str.kind === ch('u') ? src.userString(arg, room) : src.kernelString(arg, room);
      const bytes = s ?? new Uint8Array(0);
      tmp += bytes.length + 1;
      formatString(str.kind === ch('s') ? spec : NO_WIDTH, bytes, out);
      numSpec++;
      continue;
    }
    if (conv === ch('c')) {
      if (tmp === MAX_BPRINTF_BIN_ARGS) return -ENOSPC;
      tmp += 1;
      formatString(spec, [Number(arg & 0xffn)], out);
      numSpec++;
      continue;
    }
    let size = 4;
    if (f(i) === ch('l')) {
      size = 8;
      i++;
    }
    if (f(i) === ch('l')) i++;
    const k = f(i);
    if (k !== ch('i') && k !== ch('d') && k !== ch('u') && k !== ch('x') && k !== ch('X')) return -EINVAL;
    if (!stageArg(size)) return -ENOSPC;
    const bits = size * 8;
    if (k === ch('d') || k === ch('i')) {
      const v = BigInt.asIntN(bits, arg);
      formatNumber(spec, (v < 0n ? -v : v).toString(10), v < 0n, true, out);
    } else {
      const v = BigInt.asUintN(bits, arg);
      const digits = k === ch('u') ? v.toString(10) : k === ch('x') ? v.toString(16) : v.toString(16).toUpperCase();
      formatNumber(spec, digits, false, false, out);
    }
    numSpec++;
  }
  return { bytes: Uint8Array.from(out.slice(0, MAX_BPRINTF_BUF - 1)), length: out.length };
}

const utf8 = new TextDecoder();

/** bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): bytes formatted, or a negative errno. */
export function tracePrintk(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint): bigint {
  const fmt = env.mem.slice(r1, u32(r2), false);
  const r = bprintf(fmt, [r3, r4, r5], {
    kernelString: (addr, count) => readVmString(env.mem, addr, count),
    userString: (addr, count) => {
      const u = readUserString(env.task, addr, count);
      return typeof u === 'number' ? undefined : u.copied.subarray(0, u.copied.indexOf(0));
    },
    kernelBytes: (addr, len) => {
      try {
        return env.mem.slice(addr, len, false).slice();
      } catch {
        return undefined;
      }
    },
  });
  if (typeof r === 'number') return ret(r);
  // The tracepoint copies the output as a C string: it ends at the first NUL (from %c).
  const nul = r.bytes.indexOf(0);
  let line = utf8.decode(nul >= 0 ? r.bytes.subarray(0, nul) : r.bytes);
  if (line.endsWith('\n')) line = line.slice(0, -1);
  env.host.tracePrintk(line);
  return ret(r.length);
}

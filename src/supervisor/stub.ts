/**
 * @module supervisor/stub
 * The classic-BPF filter installed in the kernel for a supervised process: every system call
 * (whatever its arch, x32 numbers included) is sent to the supervisor with
 * SECCOMP_RET_USER_NOTIF, and the eBPF program decides. The program sees `arch` in its
 * seccomp_data, so an arch check in the stub would only duplicate it. (A later step moves the
 * stateless verdicts into this filter.)
 *
 *   struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }   (8 bytes, native endian)
 */
import { SECCOMP_RET_USER_NOTIF } from '../abi/seccomp.js';

const BPF_RET_K = 0x06; // BPF_RET | BPF_K

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The stub program: `ret #SECCOMP_RET_USER_NOTIF`. */
export function notifyAllStub(): SockFilter[] {
  return [{ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_USER_NOTIF }];
}

/** Encodes sock_filter entries as the bytes of a struct sock_filter array (little endian). */
export function encodeSockFilters(prog: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((f, i) => {
    dv.setUint16(i * 8, f.code, true);
    dv.setUint8(i * 8 + 2, f.jt);
    dv.setUint8(i * 8 + 3, f.jf);
    dv.setUint32(i * 8 + 4, f.k >>> 0, true);
  });
  return out;
}

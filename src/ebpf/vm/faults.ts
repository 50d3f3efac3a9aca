/**
 * @module ebpf/vm/faults
 * The errors a running program can raise. Every fault is a SeccompEbpfError carrying the
 * index of the instruction that caused it (`location.insn`); memory faults are a subclass
 * with the address, size, access kind and region as fields, so tests and tools can inspect
 * them without parsing the message.
 *
 * Codes:
 *   ERR_VM_MEMORY        load/store/atomic/helper access outside a live region or denied
 *   ERR_VM_INSN_LIMIT    executed-instruction budget exhausted
 *   ERR_VM_BAD_INSN      invalid opcode, reserved field set, bad jump, fell off the end
 *   ERR_VM_CALL_DEPTH    more than MAX_CALL_FRAMES nested bpf-to-bpf frames
 *   ERR_VM_UNKNOWN_HELPER call of a helper id missing from the helper table
 *   ERR_VM_BAD_MAP       map index out of range, or a map value pseudo-load on a wrong map
 *   ERR_VM_HELPER        a helper threw a foreign exception or returned a non-bigint
 *   ERR_VM_REENTRANT     run() called while the same VM is already running
 *   ERR_VM_INTERNAL      unexpected JS exception inside the VM (a bug), wrapped
 *   ERR_VM_BAD_OPTIONS   createVm options invalid (unknown key, bad maxInsns...)
 *   ERR_VM_BAD_CTX       run() given a ctx that is not a Uint8Array
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';

export type AccessKind = 'read' | 'write' | 'atomic' | 'release';

/** A denied memory access (code ERR_VM_MEMORY). */
export class VmMemoryFault extends SeccompEbpfError {
  readonly addr: bigint;
  readonly size: number;
  readonly access: AccessKind;
  /** Description of the region the address points into, if any. */
  readonly region: string | undefined;
  /** Why the access was denied (the message without the address prefix). */
  readonly reason: string;

  constructor(reason: string, addr: bigint, size: number, access: AccessKind, region: string | undefined, insn?: number) {
    super('ERR_VM_MEMORY',
      `${access} of ${size} byte${size === 1 ? '' : 's'} at 0x${addr.toString(16)}: ${reason}`,
      insn === undefined ? undefined : { insn });
    this.name = 'VmMemoryFault';
    this.addr = addr;
    this.size = size;
    this.access = access;
    this.region = region;
    this.reason = reason;
  }

  /** The same fault attributed to instruction `insn`. */
  at(insn: number): VmMemoryFault {
    return new VmMemoryFault(this.reason, this.addr, this.size, this.access, this.region, insn);
  }
}

/** A fault of the given code at instruction `insn`. */
export function vmFault(code: string, message: string, insn: number): SeccompEbpfError {
  return new SeccompEbpfError(code, message, { insn });
}

/** The text SeccompEbpfError appends to its message for `loc`. */
function locationSuffix(loc: ErrorLocation | undefined): string {
  return loc ? new SeccompEbpfError('', '', loc).message : '';
}

/**
 * Attributes `e` to instruction `insn`: our errors without an instruction index get one (the
 * message is rebuilt so the location appears once); foreign exceptions become ERR_VM_HELPER
 * (when raised by a helper) or ERR_VM_INTERNAL, with the original as `cause`.
 */
export function attributeFault(e: unknown, insn: number, inHelper: string | undefined): SeccompEbpfError {
  if (e instanceof VmMemoryFault) return e.location?.insn === undefined ? e.at(insn) : e;
  if (e instanceof SeccompEbpfError) {
    if (e.location?.insn !== undefined) return e;
    const suffix = locationSuffix(e.location);
    const bare = e.message.endsWith(suffix) ? e.message.slice(0, e.message.length - suffix.length) : e.message;
    return new SeccompEbpfError(e.code, bare, { ...e.location, insn }, { cause: e });
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (inHelper !== undefined) return new SeccompEbpfError('ERR_VM_HELPER', `helper ${inHelper} failed: ${what}`, { insn }, { cause: e });
  return new SeccompEbpfError('ERR_VM_INTERNAL', `internal VM error: ${what}`, { insn }, { cause: e });
}

/** The checks every engine makes when a run starts (ERR_VM_BAD_CTX, ERR_VM_REENTRANT). */
export function checkRunEntry(ctx: unknown, running: boolean): void {
  if (!(ctx instanceof Uint8Array)) throw new SeccompEbpfError('ERR_VM_BAD_CTX', 'ctx must be a Uint8Array');
  if (running) throw new SeccompEbpfError('ERR_VM_REENTRANT', 'run() called while this VM is already running (from a helper?)');
}

/**
 * @module ebpf/object
 * ObjectSpec: a deterministic, plain description of a loaded BPF object (clang ELF, assembly
 * text or classic BPF converted to eBPF). Nothing here touches the running system.
 */
import type { Insn } from './insn.js';
import type { MapSpec } from './maps/types.js';

export interface ProgramSpec {
  /** Function symbol name (e.g. "filter"). */
  name: string;
  /** ELF section it came from (e.g. "seccomp"). */
  section: string;
  /**
   * Linked instructions: every subprogram it calls is appended and call offsets resolved;
   * map references are lddw with src = BPF_PSEUDO_MAP_FD (imm = index into ObjectSpec.maps) or
   * src = BPF_PSEUDO_MAP_VALUE (imm = map index, second slot imm = offset into the value).
   */
  insns: Insn[];
}

/** A global variable of .data/.bss/.rodata, settable before load like a libbpf skeleton's. */
export interface GlobalVariable {
  name: string;
  /** Index into ObjectSpec.maps of the section's array map. */
  mapIndex: number;
  offset: number;
  size: number;
  /** `const volatile` (in .rodata): settable only before load. */
  readOnly: boolean;
  /** BTF type name when known (e.g. "unsigned int"). */
  type?: string;
  /** Signed integer type, when known from BTF. */
  signed?: boolean;
}

export interface ObjectSpec {
  /** Where it came from, for error messages. */
  file?: string;
  license: string;
  programs: ProgramSpec[];
  maps: MapSpec[];
  globals: GlobalVariable[];
}

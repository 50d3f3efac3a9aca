/**
 * @module ebpf/maps/types
 * Map descriptions (MapSpec: plain data from the ELF loader) and the live map interface that the
 * VM, the helpers, the supervisor and the library API share.
 *
 * Live maps keep their storage in SharedArrayBuffers so that the supervisor's worker thread and
 * the embedding application's main thread see the same contents while a filter runs, as user
 * space and BPF programs share a kernel map.
 */

export interface MapSpec {
  /** Name as libbpf reports it: the variable name for BTF/legacy maps, ".data"/".bss"/".rodata" (or
   *  ".rodata.str1.1" etc.) for global-variable sections. */
  name: string;
  /** BPF_MAP_TYPE_* (stock numbering). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** Initial contents of the single value of a global-variable array map (.data, .rodata, .bss). */
  initialValue?: Uint8Array;
  /** True for .rodata*: the program may not write it (BPF_F_RDONLY_PROG). */
  readOnly?: boolean;
  /** BTF type names of key and value, when the object has BTF (for pretty-printing). */
  keyType?: string;
  valueType?: string;
}

/** Shape of a map that can cross a worker boundary (postMessage): spec + shared buffers. */
export interface SharedMapState {
  spec: MapSpec;
  buffers: SharedArrayBuffer[];
}

/**
 * A live map. `lookup` returns a view aliasing the map's storage so that a VM pointer to a map
 * value reads and writes the map itself, as in the kernel.
 */
export interface BpfMap {
  readonly spec: MapSpec;
  /** Value view for `key`, or undefined. `cpu` selects the per-CPU slot of per-CPU maps. */
  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  /** BPF_ANY / BPF_NOEXIST / BPF_EXIST. Returns 0 or a negative errno (as the helper does).
   *  For per-CPU maps from user space, `value` holds one value per possible CPU (8-byte aligned
   *  each), as bpf(2) expects; from the program (cpu given) it is one value. */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): number;
  /** Returns 0 or -ENOENT (or -EINVAL for arrays). */
  delete(key: Uint8Array): number;
  /** Every key currently present (copies). */
  keys(): Uint8Array[];
  /** Buffers and spec for re-creating this map in another thread (see openSharedMap). */
  share(): SharedMapState;
}

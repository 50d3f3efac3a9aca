// ELF loader tests. Fixtures: test/fixtures/elf/*.bpf.c built by build.sh into .o files, with
// two second implementations committed beside them: libbpf's view (<name>.bpf.libbpf.json, from
// dump-libbpf.c: maps, programs, DATASECs and the instructions libbpf links) and llvm-objdump's
// listing (<name>.bpf.objdump.txt). No clang needed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SeccompEbpfError, hasCode } from '../src/errors.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC } from '../src/abi/bpf.js';
import { decodeInsns } from '../src/ebpf/codec.js';
import type { Insn } from '../src/ebpf/insn.js';
import type { ObjectSpec } from '../src/ebpf/object.js';
import { parseBpfObject, parseBpfObjectParts, findProgram, setGlobal } from '../src/ebpf/elf/index.js';
import { readElf, readRelocations, SHT_REL, SHT_RELA, SHT_NOBITS, STT_SECTION, type ElfSection } from '../src/ebpf/elf/elf.js';

const DIR = new URL('./fixtures/elf/', import.meta.url);
const FIXTURES = ['globals', 'maps', 'multi', 'legacy', 'staticsec', 'callback'] as const;
type Fixture = (typeof FIXTURES)[number];
const bytesOf = (f: Fixture): Uint8Array => new Uint8Array(readFileSync(new URL(`${f}.bpf.o`, DIR)));

interface GoldenMap { name: string; type: number; key_size: number; value_size: number; max_entries: number; map_flags: number; key_type: string; value_type: string; initial_value?: string }
interface Golden {
  libbpf: string;
  open: number;
  maps?: GoldenMap[];
  programs?: { name: string; section: string; insn_cnt: number }[];
  datasecs?: { name: string; size: number; vars: { name: string; offset: number; size: number; type: string }[] }[];
  linked?: Record<string, number[][] | { error: number }>;
}
const golden = (f: Fixture): Golden => JSON.parse(readFileSync(new URL(`${f}.bpf.libbpf.json`, DIR), 'utf8')) as Golden;
const hex = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString('hex') : undefined);
const tuple = (i: Insn): number[] => [i.code, i.dst, i.src, i.off, i.imm];

/** libbpf 1.1 internal_map_name(): object-name prefix for ".data"-like names, 15 chars max. */
function libbpfInternalName(objName: string, real: string): string {
  const sfx = Math.max(7, real.length);
  const pfx = real.slice(1).includes('.') ? 0 : Math.min(16 - sfx - 1, objName.length);
  return (objName.slice(0, pfx) + real.slice(0, sfx)).slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_');
}

// ---------------------------------------------------------------------------------------------
// Against libbpf

for (const f of FIXTURES) {
  const g = golden(f);
  if (g.open !== 0) continue;
  test(`${f}: maps, programs and globals match libbpf ${g.libbpf}`, () => {
    const { spec, functions } = parseBpfObjectParts(bytesOf(f), { file: `${f}.bpf.o` });
    assert.equal(spec.maps.length, g.maps!.length);
    g.maps!.forEach((gm, i) => {
      const m = spec.maps[i]!;
      const internal = m.initialValue !== undefined;
      assert.equal(internal ? libbpfInternalName(f, m.name) : m.name, gm.name, `map ${i} name`);
      assert.deepEqual(
        [m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.keyType ?? '', m.valueType ?? ''],
        [gm.type, gm.key_size, gm.value_size, gm.max_entries, gm.map_flags, gm.key_type, gm.value_type], `map ${gm.name}`);
      assert.equal(hex(m.initialValue), gm.initial_value, `map ${gm.name} initial value`);
      assert.equal(m.readOnly ?? false, internal && m.name.startsWith('.rodata'));
    });
    const progs = functions.filter((fn) => fn.program);
    assert.deepEqual(progs.map((p) => [p.name, p.section, p.insnCount]), g.programs!.map((p) => [p.name, p.section, p.insn_cnt]));
    assert.deepEqual(spec.programs.map((p) => p.name), g.programs!.map((p) => p.name));

    // Globals: every variable of a data section's DATASEC, at libbpf's fixed-up offset.
    const expected = g.datasecs!.filter((d) => spec.maps.some((m) => m.name === d.name && m.initialValue))
      .flatMap((d) => d.vars.map((v) => ({ ...v, map: d.name })));
    assert.equal(spec.globals.length, expected.length);
    for (const v of expected) {
      const gl = spec.globals.find((x) => x.name === v.name);
      assert.ok(gl, `global ${v.name}`);
      assert.equal(spec.maps[gl.mapIndex]!.name, v.map);
      assert.deepEqual([gl.offset, gl.size], [v.offset, v.size], v.name);
      if (v.type !== '') assert.equal(gl.type, v.type, `${v.name} type`);
      assert.equal(gl.readOnly, v.map.startsWith('.rodata'));
    }
  });

  test(`${f}: linked instructions equal libbpf's`, (t) => {
    const failed = Object.entries(g.linked ?? {}).filter(([, v]) => !Array.isArray(v));
    if (!g.linked || Object.keys(g.linked).length === 0 || failed.length > 0) {
      return t.skip(`golden has no linked instructions (${JSON.stringify(failed)}): regenerate with build.sh as root`);
    }
    const spec = parseBpfObject(bytesOf(f));
    for (const [name, insns] of Object.entries(g.linked)) {
      assert.ok(Array.isArray(insns));
      const p = spec.programs.find((q) => q.name === name);
      assert.ok(p, name);
      assert.deepEqual(p.insns.map(tuple), insns, name);
    }
  });
}

test('libbpf >= 1.0 rejects the legacy-maps and static-in-section fixtures (we accept them)', () => {
  assert.equal(golden('legacy').open, -95);
  assert.equal(golden('staticsec').open, -95);
});

// ---------------------------------------------------------------------------------------------
// Against llvm-objdump

/** Parses "<name>.bpf.objdump.txt": per section, the raw slots and the relocations. */
function objdump(f: Fixture): Map<string, { slots: Map<number, number[]>; relocs: { offset: number; type: string; sym: string }[] }> {
  const out = new Map<string, { slots: Map<number, number[]>; relocs: { offset: number; type: string; sym: string }[] }>();
  let cur: ReturnType<typeof out.get>;
  for (const line of readFileSync(new URL(`${f}.bpf.objdump.txt`, DIR), 'utf8').split('\n')) {
    let m = /^Disassembly of section (.*):$/.exec(line);
    if (m) { cur = { slots: new Map(), relocs: [] }; out.set(m[1]!, cur); continue; }
    m = /^\s+(\d+):\t((?:[0-9a-f]{2} )+)/.exec(line);
    if (m && cur) { cur.slots.set(Number(m[1]), m[2]!.trim().split(' ').map((x) => parseInt(x, 16))); continue; }
    m = /^\t\t([0-9a-f]+):\s+(R_BPF_\w+)\s+(\S+)/.exec(line);
    if (m && cur) cur.relocs.push({ offset: parseInt(m[1]!, 16), type: m[2]!, sym: m[3]! });
  }
  return out;
}

/** objdump shows section symbols (which have no name) by their section's name. */
function symName(elf: ReturnType<typeof readElf>, i: number): string {
  const s = elf.symbols[i]!;
  return s.type === STT_SECTION ? elf.sections[s.shndx]!.name : s.name;
}

const RELOC_NAMES: Record<number, string> = { 1: 'R_BPF_64_64', 10: 'R_BPF_64_32' };

for (const f of FIXTURES) {
  test(`${f}: code sections and relocations as llvm-objdump lists them`, () => {
    const elf = readElf(bytesOf(f));
    const listing = objdump(f);
    assert.ok(listing.size > 0);
    for (const [name, want] of listing) {
      const sec = elf.sections.find((s) => s.name === name)!;
      assert.ok(sec, name);
      for (const [slot, raw] of want.slots) assert.deepEqual([...sec.data.subarray(slot * 8, slot * 8 + raw.length)], raw, `${name}:${slot}`);
      const rs = elf.sections.find((s) => (s.type === SHT_REL || s.type === SHT_RELA) && s.info === sec.index);
      const got = rs ? readRelocations(elf, rs).map((r) => ({ offset: r.offset, type: RELOC_NAMES[r.type] ?? String(r.type), sym: symName(elf, r.symbol) })) : [];
      assert.deepEqual(got, want.relocs, `${name} relocations`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Hand-derived expectations (from the objdump listings)

/** Slot i of program p: [code, dst, src, off, imm]. */
const at = (spec: ObjectSpec, prog: string, i: number): number[] => tuple(spec.programs.find((p) => p.name === prog)!.insns[i]!);

test('globals: filter links is_target, bump (via is_target) and arg_ok depth-first; data refs become map values', () => {
  const spec = parseBpfObject(bytesOf('globals'));
  const idx = (n: string): number => spec.maps.findIndex((m) => m.name === n);
  assert.deepEqual(spec.maps.map((m) => m.name), ['stats', '.rodata', '.data', '.data.custom', '.bss', '.rodata.str1.1']);
  const p = findProgram(spec);
  // filter: 40 slots; is_target (9) at 40; bump (18, called from is_target) at 49; arg_ok (14) at 67.
  assert.equal(p.insns.length, 40 + 9 + 18 + 14);
  const ld = (i: number, src: number, imm: number, off: number): void => {
    assert.deepEqual([p.insns[i]!.code, p.insns[i]!.src, p.insns[i]!.imm, p.insns[i + 1]!.imm], [0x18, src, imm, off], `slot ${i}`);
  };
  ld(3, BPF_PSEUDO_MAP_VALUE, idx('.bss'), 0); // static last_nr: R_BPF_64_64 .bss (section symbol, imm 0)
  assert.deepEqual(at(spec, 'filter', 8), [0x85, 0, BPF_PSEUDO_CALL, 0, 40 - 9]); // call is_target (global: imm -1 + symbol)
  assert.deepEqual(at(spec, 'filter', 12), [0x85, 0, BPF_PSEUDO_CALL, 0, 67 - 13]); // call .text+(26+1)*8 = arg_ok
  ld(18, BPF_PSEUDO_MAP_FD, idx('stats'), 0);
  ld(22, BPF_PSEUDO_MAP_VALUE, idx('.data.custom'), 0);
  ld(28, BPF_PSEUDO_MAP_VALUE, idx('.bss'), 8); // denied
  ld(33, BPF_PSEUDO_MAP_VALUE, idx('.rodata'), 4); // deny_errno
  assert.deepEqual(at(spec, 'filter', 41), [0x85, 0, BPF_PSEUDO_CALL, 0, 49 - 42]); // is_target -> bump, no relocation
  ld(42, BPF_PSEUDO_MAP_VALUE, idx('.rodata'), 0); // target_nr
  ld(50, BPF_PSEUDO_MAP_VALUE, idx('.bss'), 0); // static last_nr via the .bss section symbol
  ld(53, BPF_PSEUDO_MAP_VALUE, idx('.data'), 0); // calls
  ld(58, BPF_PSEUDO_MAP_VALUE, idx('.rodata'), 8); // verbose
  ld(62, BPF_PSEUDO_MAP_VALUE, idx('.rodata.str1.1'), 0); // "nr=%d\n"
  ld(68, BPF_PSEUDO_MAP_VALUE, idx('.rodata'), 16); // min_arg
  ld(72, BPF_PSEUDO_MAP_VALUE, idx('.rodata.str1.1'), 7); // "small arg\n": section symbol + imm 7
  assert.equal(spec.license, 'Dual BSD/GPL');
});

test('multi: each program gets its own copy of the subprograms it reaches', () => {
  const spec = parseBpfObject(bytesOf('multi'));
  assert.deepEqual(spec.programs.map((p) => [p.name, p.section, p.insns.length]),
    [['first', 'seccomp', 7 + 16 + 8 + 4], ['second', 'seccomp', 7 + 4], ['strict', 'seccomp/strict', 7 + 8 + 4], ['sock', 'socket', 2]]);
  // first -> shared (7) -> middle (23) -> leaf (31)
  assert.equal(at(spec, 'first', 1)[4], 7 - 2);
  assert.equal(at(spec, 'first', 7 + 11)[4], 23 - (7 + 11) - 1);
  assert.equal(at(spec, 'first', 23 + 1)[4], 31 - (23 + 1) - 1);
  assert.equal(at(spec, 'first', 23 + 5)[4], 31 - (23 + 5) - 1);
  assert.deepEqual(at(spec, 'first', 7 + 5).slice(0, 3), [0x18, 1, BPF_PSEUDO_MAP_FD]);
  assert.equal(at(spec, 'second', 1)[4], 7 - 2); // .text + (23+1)*8 = leaf
  assert.equal(at(spec, 'strict', 1)[4], 7 - 2); // .text + (15+1)*8 = middle
  assert.equal(at(spec, 'strict', 7 + 5)[4], 15 - (7 + 5) - 1);
  assert.equal(findProgram(spec).name, 'first');
  assert.equal(findProgram(spec, 'strict').name, 'strict');
  assert.equal(findProgram(spec, 'seccomp/strict').name, 'strict');
  assert.equal(findProgram(spec, 'seccomp').name, 'first');
  assert.equal(findProgram(spec, 'socket').name, 'sock');
  assert.throws(() => findProgram(spec, 'nope'), (e) => hasCode(e, 'ERR_ELF_PROGRAM_NOT_FOUND'));
});

test('legacy: struct bpf_map_def maps in SEC("maps")', () => {
  const spec = parseBpfObject(bytesOf('legacy'));
  assert.deepEqual(spec.maps, [
    { name: 'legacy_hash', type: 1, keySize: 4, valueSize: 8, maxEntries: 128, flags: 0 },
    { name: 'legacy_array', type: 2, keySize: 4, valueSize: 16, maxEntries: 4, flags: 0 },
  ]);
  for (const [slot, map] of [[6, 0], [18, 0], [26, 1]] as const) assert.deepEqual(at(spec, 'filter', slot).slice(0, 5), [0x18, 1, BPF_PSEUDO_MAP_FD, 0, map]);
  assert.equal(spec.programs[0]!.insns.length, 34);
});

test('staticsec: a static function in a program section is a subprogram called without relocation', () => {
  const { spec, functions } = parseBpfObjectParts(bytesOf('staticsec'));
  assert.deepEqual(functions.map((fn) => [fn.name, fn.program]), [['filter', true], ['helper', false]]);
  assert.deepEqual(spec.programs.map((p) => p.name), ['filter']);
  assert.equal(spec.programs[0]!.insns.length, 7 + 5);
  assert.deepEqual(at(spec, 'filter', 1), [0x85, 0, BPF_PSEUDO_CALL, 0, 7 - 2]);
});

test('callback: function-address lddw (bpf_loop, for_each_map_elem) appends the callback like a call', () => {
  const spec = parseBpfObject(bytesOf('callback'));
  // filter (24) + count_step (7, .text+0) at 24 + sum_limits (8, .text+56: the lddw's imm) at 31
  assert.equal(spec.programs[0]!.insns.length, 24 + 7 + 8);
  assert.deepEqual(at(spec, 'filter', 7), [0x18, 2, BPF_PSEUDO_FUNC, 0, 24 - 8]);
  assert.deepEqual(at(spec, 'filter', 12), [0x18, 1, BPF_PSEUDO_MAP_FD, 0, 0]);
  assert.deepEqual(at(spec, 'filter', 14), [0x18, 2, BPF_PSEUDO_FUNC, 0, 31 - 15]);
  assert.deepEqual(at(spec, 'filter', 15), [0, 0, 0, 0, 0]);
});

test('maps: BTF map definitions with key/value types', () => {
  const spec = parseBpfObject(bytesOf('maps'), { file: 'maps.bpf.o' });
  assert.equal(spec.file, 'maps.bpf.o');
  assert.deepEqual(spec.maps[1], { name: 'last_by_pid', type: 1, keySize: 4, valueSize: 16, maxEntries: 64, flags: 1, keyType: 'unsigned int', valueType: 'struct event' });
  assert.deepEqual(spec.maps[3], { name: 'task_calls', type: 29, keySize: 4, valueSize: 16, maxEntries: 0, flags: 1, keyType: 'int', valueType: 'struct task_state' });
  assert.deepEqual(spec.globals, []);
});

// ---------------------------------------------------------------------------------------------
// Globals

test('setGlobal writes little-endian values into the map initial value, range-checked', () => {
  const input = bytesOf('globals');
  const copy = input.slice();
  const spec = parseBpfObject(input);
  const rodata = spec.maps.find((m) => m.name === '.rodata')!.initialValue!;
  setGlobal(spec, 'target_nr', 0xdeadbeef);
  assert.equal(hex(rodata.subarray(0, 4)), 'efbeadde');
  setGlobal(spec, 'deny_errno', -2);
  assert.equal(hex(rodata.subarray(4, 8)), 'feffffff');
  setGlobal(spec, 'min_arg', -(2n ** 63n));
  assert.equal(hex(rodata.subarray(16, 24)), '0000000000000080');
  setGlobal(spec, 'verbose', 255);
  assert.equal(rodata[8], 255);
  setGlobal(spec, 'tag', new TextEncoder().encode('abcdefg\0'));
  assert.equal(hex(spec.maps.find((m) => m.name === '.data')!.initialValue!.subarray(4, 12)), '6162636465666700');
  setGlobal(spec, 'denied', 5n);
  assert.equal(spec.maps.find((m) => m.name === '.bss')!.initialValue![8], 5);
  assert.deepEqual(input, copy, 'the input bytes are never modified');

  const range = (name: string, v: bigint | number | Uint8Array): void =>
    assert.throws(() => setGlobal(spec, name, v), (e) => hasCode(e, 'ERR_GLOBAL_RANGE'), `${name} = ${String(v)}`);
  range('target_nr', -1);
  range('target_nr', 2 ** 32);
  range('deny_errno', 2 ** 31);
  range('deny_errno', -(2 ** 31) - 1);
  range('verbose', 256);
  range('min_arg', 2n ** 63n);
  range('target_nr', 1.5);
  range('tag', 1); // char[8]: bytes only
  range('tag', new Uint8Array(7));
  range('calls', 'x' as unknown as number);
  setGlobal(spec, 'deny_errno', -(2 ** 31));
  setGlobal(spec, 'target_nr', 2 ** 32 - 1);
  assert.throws(() => setGlobal(spec, 'nope', 1), (e) => hasCode(e, 'ERR_GLOBAL_UNKNOWN') && /target_nr/.test((e as Error).message));
});

test('globals carry readOnly, type and signedness', () => {
  const spec = parseBpfObject(bytesOf('globals'));
  const g = Object.fromEntries(spec.globals.map((x) => [x.name, x]));
  assert.deepEqual([g.target_nr!.readOnly, g.target_nr!.type, g.target_nr!.signed], [true, 'unsigned int', false]);
  assert.deepEqual([g.deny_errno!.signed, g.min_arg!.signed, g.min_arg!.size], [true, true, 8]);
  assert.deepEqual([g.tag!.type, g.tag!.signed, g.calls!.readOnly], ['char[8]', undefined, false]);
  assert.equal(g.last_nr!.mapIndex, spec.maps.findIndex((m) => m.name === '.bss'));
});

test('parsing is deterministic', () => {
  for (const f of FIXTURES) assert.deepEqual(parseBpfObject(bytesOf(f)), parseBpfObject(bytesOf(f)));
});

// ---------------------------------------------------------------------------------------------
// Synthetic variants: a minimal ELF writer to re-lay-out sections

interface OutSection { name: string; type: number; flags: number; data: Uint8Array; size: number; link: number; info: number; entsize: number }

/** Writes sections (index 0 = null) as an ELF64 LE EM_BPF ET_REL file with a fresh .shstrtab. */
function writeElf(sections: OutSection[]): Uint8Array {
  const all = [...sections, { name: '.shstrtab.t', type: 3, flags: 0, data: new Uint8Array(0), size: 0, link: 0, info: 0, entsize: 0 }];
  const names: number[] = [0];
  const nameOff: number[] = [];
  for (const s of all) { nameOff.push(names.length); names.push(...new TextEncoder().encode(s.name), 0); }
  const shstr = Uint8Array.from(names);
  all[all.length - 1] = { ...all[all.length - 1]!, data: shstr, size: shstr.length };
  let off = 64;
  const offs: number[] = [];
  for (const s of all) { off = (off + 7) & ~7; offs.push(off); if (s.type !== SHT_NOBITS) off += s.data.length; }
  const shoff = (off + 7) & ~7;
  const out = new Uint8Array(shoff + all.length * 64);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 1, true); dv.setUint16(18, 247, true); dv.setUint32(20, 1, true);
  dv.setBigUint64(40, BigInt(shoff), true); dv.setUint16(52, 64, true); dv.setUint16(58, 64, true);
  dv.setUint16(60, all.length, true); dv.setUint16(62, all.length - 1, true);
  all.forEach((s, i) => {
    if (s.type !== SHT_NOBITS) out.set(s.data, offs[i]!);
    const h = shoff + i * 64;
    if (i === 0) return;
    dv.setUint32(h, nameOff[i]!, true); dv.setUint32(h + 4, s.type, true); dv.setBigUint64(h + 8, BigInt(s.flags), true);
    dv.setBigUint64(h + 24, BigInt(offs[i]!), true); dv.setBigUint64(h + 32, BigInt(s.type === SHT_NOBITS ? s.size : s.data.length), true);
    dv.setUint32(h + 40, s.link, true); dv.setUint32(h + 44, s.info, true); dv.setBigUint64(h + 48, 8n, true); dv.setBigUint64(h + 56, BigInt(s.entsize), true);
  });
  return out;
}

const cloneSections = (secs: ElfSection[]): OutSection[] => secs.map((s) => ({ ...s, data: s.data.slice() }));

test('the test ELF writer round-trips a fixture', () => {
  const elf = readElf(bytesOf('globals'));
  assert.deepEqual(parseBpfObject(writeElf(cloneSections(elf.sections))), parseBpfObject(bytesOf('globals')));
});

test('.rela sections with explicit addends link like .rel ones', () => {
  for (const f of ['globals', 'multi'] as const) {
    const elf = readElf(bytesOf(f));
    const out = cloneSections(elf.sections);
    for (const rs of elf.sections.filter((s) => s.type === SHT_REL && out[s.info]!.flags & 4)) {
      const code = out[rs.info]!;
      const cdv = new DataView(code.data.buffer);
      const rels = readRelocations(elf, rs);
      const rela = new Uint8Array(rels.length * 24);
      const rdv = new DataView(rela.buffer);
      rels.forEach((r, n) => {
        const imm = cdv.getInt32(r.offset + 4, true);
        const isCall = code.data[r.offset] === 0x85;
        // Move the implicit addend into the relocation and scribble over the instruction's imm.
        rdv.setBigUint64(n * 24, BigInt(r.offset), true);
        rdv.setBigUint64(n * 24 + 8, (BigInt(r.symbol) << 32n) | BigInt(r.type), true);
        rdv.setBigInt64(n * 24 + 16, BigInt(isCall ? (imm + 1) * 8 : imm), true);
        cdv.setInt32(r.offset + 4, 0x5a5a5a5, true);
      });
      out[rs.index] = { ...out[rs.index]!, name: `.rela${code.name}`, type: SHT_RELA, data: rela, entsize: 24 };
    }
    assert.deepEqual(parseBpfObject(writeElf(out)), parseBpfObject(bytesOf(f)), f);
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

/** Patches a copy of a fixture. */
function patched(f: Fixture, edit: (b: Uint8Array, dv: DataView, elf: ReturnType<typeof readElf>) => void): Uint8Array {
  const b = bytesOf(f).slice();
  edit(b, new DataView(b.buffer), readElf(b));
  return b;
}
function symOff(elf: ReturnType<typeof readElf>, name: string): number {
  const s = elf.symbols.find((x) => x.name === name)!;
  return elf.symtab.offset + s.index * 24;
}
function expectCode(bytes: Uint8Array, code: string, re?: RegExp): SeccompEbpfError {
  let err: unknown;
  try { parseBpfObject(bytes, { file: 'x.o' }); } catch (e) { err = e; }
  assert.ok(err instanceof SeccompEbpfError, `expected ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (re) assert.match(err.message, re);
  return err;
}

test('not a BPF object: ERR_ELF_NOT_BPF', () => {
  expectCode(new Uint8Array([1, 2, 3]), 'ERR_ELF_NOT_BPF', /magic/);
  expectCode(patched('multi', (b) => { b[4] = 1; }), 'ERR_ELF_NOT_BPF', /ELF64/);
  expectCode(patched('multi', (b) => { b[5] = 2; }), 'ERR_ELF_NOT_BPF', /little-endian/);
  expectCode(patched('multi', (_b, dv) => dv.setUint16(18, 62, true)), 'ERR_ELF_NOT_BPF', /EM_BPF/);
  expectCode(patched('multi', (_b, dv) => dv.setUint16(16, 2, true)), 'ERR_ELF_NOT_BPF', /ET_REL/);
});

test('malformed ELF: ERR_ELF_MALFORMED with section and offset', () => {
  expectCode(bytesOf('multi').subarray(0, 40), 'ERR_ELF_MALFORMED', /truncated/);
  expectCode(bytesOf('multi').subarray(0, 4000), 'ERR_ELF_MALFORMED', /section header table/);
  const e = expectCode(patched('multi', (_b, dv, elf) => dv.setBigUint64(symOff(elf, 'leaf') + 16, 33n, true)), 'ERR_ELF_MALFORMED', /leaf/);
  assert.equal(e.location?.section, '.text');
  expectCode(patched('multi', (_b, dv, elf) => dv.setBigUint64(symOff(elf, 'leaf') + 8, 0x78n, true)), 'ERR_ELF_MALFORMED', /overlaps/);
});

test('relocation errors: ERR_ELF_RELOCATION', () => {
  // target_nr made undefined (an extern)
  expectCode(patched('globals', (_b, dv, elf) => dv.setUint16(symOff(elf, 'target_nr') + 6, 0, true)), 'ERR_ELF_RELOCATION', /undefined symbol 'target_nr'/);
  // shared's same-section call to middle moved into the middle of middle
  const e = expectCode(patched('multi', (b, dv, elf) => {
    const text = elf.sections.find((s) => s.name === '.text')!;
    dv.setInt32(text.offset + 11 * 8 + 4, 5, true);
  }), 'ERR_ELF_RELOCATION', /no function starts/);
  assert.deepEqual([e.location?.section, e.location?.insn], ['.text', 11]);
  // a map reference pointing between two map definitions (REL addend 4 in the lddw of `events`)
  expectCode(patched('maps', (_b, dv, elf) => {
    const sec = elf.sections.find((s) => s.name === 'seccomp')!;
    dv.setInt32(sec.offset + 29 * 8 + 4, 4, true);
  }), 'ERR_ELF_RELOCATION', /no map is defined at offset 76/);
  // a relocation on an ALU instruction
  expectCode(patched('multi', (_b, dv, elf) => {
    const rel = elf.sections.find((s) => s.name === '.rel.text')!;
    dv.setBigUint64(rel.offset, 8n, true);
  }), 'ERR_ELF_RELOCATION', /opcode 0xb4/);
});

test('BTF errors: bad magic, cyclic typedef, unknown map attribute', () => {
  expectCode(patched('maps', (b, _dv, elf) => { b[elf.sections.find((s) => s.name === '.BTF')!.offset] = 0; }), 'ERR_BTF_MALFORMED', /magic/);
  const cyclic = patched('maps', (_b, dv, elf) => {
    // Make every TYPEDEF point at itself: resolving the key type of any map must stop, not hang.
    const btf = elf.sections.find((s) => s.name === '.BTF')!;
    const hdr = dv.getUint32(btf.offset + 4, true);
    let p = btf.offset + hdr + dv.getUint32(btf.offset + 8, true);
    const end = p + dv.getUint32(btf.offset + 12, true);
    const extra: Record<number, (vlen: number) => number> = { 1: () => 4, 3: () => 12, 4: (v) => 12 * v, 5: (v) => 12 * v, 6: (v) => 8 * v, 13: (v) => 8 * v, 14: () => 4, 15: (v) => 12 * v, 17: () => 4, 19: (v) => 12 * v };
    for (let id = 1; p < end; id++) {
      const info = dv.getUint32(p + 4, true);
      const kind = (info >>> 24) & 0x1f;
      if (kind === 8) dv.setUint32(p + 8, id, true);
      p += 12 + (extra[kind]?.(info & 0xffff) ?? 0);
    }
  });
  expectCode(cyclic, 'ERR_BTF_MALFORMED', /cyclic/);
  expectCode(patched('maps', (b, _dv, elf) => {
    const btf = elf.sections.find((s) => s.name === '.BTF')!;
    const i = Buffer.from(b.subarray(btf.offset, btf.offset + btf.size)).indexOf('max_entries\0');
    b[btf.offset + i + 10] = 0x7a; // max_entriez
  }), 'ERR_ELF_MAP_DEF', /unknown attribute 'max_entriez'/);
});

test('no program: ERR_ELF_NO_PROGRAM', () => {
  // Make every program symbol local: all functions become subprograms.
  const b = patched('multi', (bytes, _dv, elf) => {
    for (const n of ['first', 'second', 'strict', 'sock']) bytes[symOff(elf, n) + 4] = 0x02;
  });
  expectCode(b, 'ERR_ELF_NO_PROGRAM');
  assert.throws(() => findProgram({ license: '', programs: [], maps: [], globals: [] }), (e) => hasCode(e, 'ERR_ELF_NO_PROGRAM'));
});

test('an object without license section has license ""', () => {
  const elf = readElf(bytesOf('multi'));
  const secs = cloneSections(elf.sections).map((s) => (s.name === 'license' ? { ...s, name: 'not-license' } : s));
  assert.equal(parseBpfObject(writeElf(secs)).license, '');
});

// ---------------------------------------------------------------------------------------------
// Fuzz: truncations and mutations give an ObjectSpec or a SeccompEbpfError, nothing else

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fuzz: truncated and mutated fixtures never crash or hang', () => {
  const rnd = mulberry32(0x5ecc0b9f);
  const int = (n: number): number => Math.floor(rnd() * n);
  const counts = new Map<string, number>();
  let runs = 0;
  let slowest = 0;
  const run = (bytes: Uint8Array, what: string): void => {
    const t0 = performance.now();
    let outcome = 'ok';
    try {
      const spec = parseBpfObject(bytes);
      for (const g of spec.globals) { try { setGlobal(spec, g.name, 0); } catch (e) { if (!(e instanceof SeccompEbpfError)) throw e; } }
    } catch (e) {
      if (!(e instanceof SeccompEbpfError)) assert.fail(`${what}: ${(e as Error)?.stack ?? String(e)}`);
      assert.match(e.code, /^ERR_(ELF|BTF)_/, what);
      outcome = e.code;
    }
    slowest = Math.max(slowest, performance.now() - t0);
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    runs++;
  };
  for (const f of FIXTURES) {
    const orig = bytesOf(f);
    const elf = readElf(orig);
    // Regions worth hitting: headers, section headers and the sections the loader reads.
    const shoff = Number(new DataView(orig.buffer).getBigUint64(40, true));
    const regions: [number, number][] = [[0, 64], [shoff, orig.length - shoff]];
    for (const s of elf.sections) {
      if (s.type === SHT_NOBITS || s.size === 0 || s.name.startsWith('.debug')) continue;
      regions.push([s.offset, s.size]);
    }
    for (let len = 0; len < orig.length; len += 1 + int(60)) run(orig.subarray(0, len), `${f} truncated to ${len}`);
    for (let n = 0; n < 600; n++) {
      const b = orig.slice();
      const edits = 1 + int(4);
      for (let k = 0; k < edits; k++) {
        const [start, size] = rnd() < 0.85 ? regions[int(regions.length)]! : [0, b.length];
        const pos = start + int(size);
        const r = rnd();
        if (r < 0.4) b[pos] = int(256);
        else if (r < 0.7) b[pos]! ^= 1 << int(8);
        else {
          // a 32-bit field set to a boundary value
          const p4 = pos & ~3;
          const vals = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, orig.length, 8, 24];
          if (p4 + 4 <= b.length) new DataView(b.buffer).setUint32(p4, vals[int(vals.length)]!, true);
        }
      }
      run(b, `${f} mutation ${n}`);
    }
  }
  assert.ok(runs > 3000, `${runs} runs`);
  assert.ok((counts.get('ok') ?? 0) > 100, 'some mutations still parse');
  assert.ok(counts.size > 4, `several distinct outcomes: ${[...counts.keys()].join(', ')}`);
  assert.ok(slowest < 2000, `slowest parse took ${slowest} ms`);
});

test('fixture bytes decode as instructions (sanity for the codec contract)', () => {
  const elf = readElf(bytesOf('multi'));
  const text = elf.sections.find((s) => s.name === '.text')!;
  assert.equal(decodeInsns(text.data).length, text.size / 8);
});

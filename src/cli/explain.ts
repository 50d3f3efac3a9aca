/**
 * @module cli/explain
 * `seccomp-ebpf explain [FILE] [--program NAME] [--global NAME=VALUE]... [--map NAME:KEY=VALUE]... [--cbpf]`:
 * what `run` would install in the kernel for a filter (the split, see src/split), per syscall:
 * the verdict the kernel decides, or the argument tests it makes, and what goes to the
 * supervisor and why (a map access, a helper call, a condition the split cannot express, at
 * instruction N). Syscalls with the same decision are grouped. Globals matter: `const volatile`
 * ones (.rodata) are constants for the split, so --global may move syscalls into the kernel.
 * `--cbpf` appends the classic-BPF filter, disassembled.
 *
 *   policies/default.bpf.o (program default_policy): kernel filter of 28 classic-BPF instructions
 *
 *   x86_64 syscalls:
 *     ALLOW          456 syscalls: every other one
 *     ERRNO(EPERM)   ptrace, mount, umount2, ... (12)
 *     supervisor     execve, execveat
 *                    because it updates map .bss atomically (insn 36)
 *   ...
 */
import { defaultPolicyPath, loadFilter, syscallName } from '../index.js';
// Not (yet) in the public API:
import { disassembleClassic } from '../cbpf/disasm.js';
import { formatTree, formatVerdict } from '../split/format.js';
import type { NotifyReason, Region, Tree } from '../split/index.js';
import type { CliIo } from './run.js';
import { parseAssignment, parseMapAssignment } from './values.js';

export interface ExplainOptions {
  program?: string;
  global?: string[];
  map?: string[];
  cbpf?: boolean;
}

const PAD = 15;
/** Names of a group, shortened past `max`. */
function names(nrs: number[], max = 8): string {
  const list = nrs.map((nr) => syscallName(nr) ?? `nr ${nr}`);
  return list.length <= max ? list.join(', ') : `${list.slice(0, max).join(', ')}, ... (${list.length})`;
}

function because(reasons: readonly NotifyReason[], indent: string): string[] {
  return reasons.map((r, i) => `${indent}${i === 0 ? 'because' : '    and'} it ${r.message}${r.insn !== undefined ? ` (insn ${r.insn})` : ''}`);
}

/** One line for a leaf, or the tree below a header. */
function describe(label: string, r: Region, indent: string, on = 'the arguments'): string[] {
  const t: Tree = r.tree;
  const head = `${indent}${label.padEnd(PAD)} `;
  const why = because(r.reasons, `${indent}${' '.repeat(PAD + 1)}`);
  if (t.kind === 'ret') return [`${head}${formatVerdict(t.value)}`];
  if (t.kind === 'notify') return [`${head}supervisor`, ...why];
  return [`${head}depends on ${on}:`, ...formatTree(t, `${indent}    `), ...why];
}

/** Explains the split of the filter; resolves to the exit status. */
export async function explainCommand(file: string | undefined, opts: ExplainOptions, io: CliIo): Promise<number> {
  const globals = (opts.global ?? []).map((g) => parseAssignment(g, '--global'));
  const entries = (opts.map ?? []).map(parseMapAssignment);
  const path = file ?? defaultPolicyPath();
  const filter = await loadFilter(path, opts.program !== undefined ? { program: opts.program } : {});
  for (const g of globals) filter.setGlobal(g.name, g.value);
  for (const e of entries) filter.map(e.map).update(e.key, e.value);
  const s = filter.split();

  const out: string[] = [`${path} (program ${filter.program.name}): kernel filter of ${s.filter.length} classic-BPF instructions`];
  for (const w of s.warnings) out.push(`warning: ${w}`);

  // Group x86_64 syscalls by decision (equal trees, reasons included, are the same object).
  const groups = new Map<Tree, number[]>();
  s.syscalls.forEach((r, nr) => {
    const g = groups.get(r.tree);
    if (g) g.push(nr);
    else groups.set(r.tree, [nr]);
  });
  const ordered = [...groups].sort((a, b) => rank(a[0]) - rank(b[0]) || b[1].length - a[1].length);
  const largest = Math.max(...ordered.map(([, nrs]) => nrs.length));
  out.push('', `x86_64 syscalls (numbers 0 to ${s.syscalls.length - 1}):`);
  for (const [tree, nrs] of ordered) {
    const region = s.syscalls[nrs[0]!]!;
    const label = tree.kind === 'ret' || tree.kind === 'notify' ? undefined : names(nrs, 4);
    if (label === undefined) {
      const who = nrs.length === s.syscalls.length ? `all ${nrs.length} numbers`
        : nrs.length === largest && nrs.length > 20 ? `${nrs.length} numbers: every other one` : names(nrs);
      const first = describe(tree.kind === 'ret' ? formatVerdict(tree.value) : 'supervisor', region, '  ')[0]!;
      out.push(`${first.slice(0, 2 + PAD + 1)}${who}`, ...because(region.reasons, `  ${' '.repeat(PAD + 1)}`));
    } else {
      out.push(...describe(label, region, '  '));
    }
  }
  out.push('', `numbers from ${s.syscalls.length} on (x32 ABI, -1...):`, ...describe('', s.other, '  ', 'nr').map(trimLabel));
  out.push('', 'other architectures:', ...describe('', s.foreign, '  ', 'arch and nr').map(trimLabel));
  const notified = s.syscalls.filter((r, nr) => r.reasons.length > 0 && syscallName(nr) !== undefined).length;
  out.push('', `to the supervisor: ${notified === 0 ? 'no x86_64 syscall' : `${notified} x86_64 syscall${notified === 1 ? '' : 's'} (all or some of their calls)`}`);
  if (opts.cbpf) out.push('', disassembleClassic(s.filter, { seccomp: true }).trimEnd());
  io.writeOut(`${out.join('\n')}\n`);
  return 0;
}

/** Order of groups: constant verdicts first, then argument-dependent ones, then the supervisor. */
function rank(t: Tree): number {
  return t.kind === 'ret' ? 0 : t.kind === 'notify' ? 2 : 1;
}

/** Lines of describe('') start with an empty, padded label: keep a two-space indent. */
function trimLabel(line: string): string {
  return line.startsWith(`  ${' '.repeat(PAD)} `) ? `  ${line.slice(2 + PAD + 1)}` : line;
}

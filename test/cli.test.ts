// The seccomp-ebpf command line: bad input (each case's error code and exit status, one line,
// no stack trace), disasm against llvm-objdump, asm round trips, --log and --maps output,
// trace_printk/LOG/fault lines on stderr, signal forwarding, and the built bin/ entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { compileC } from './helpers/cprog.js';
import { supervisionUnsupported } from './helpers/supervise.js';

const unsupported = supervisionUnsupported;

const tmp = mkdtempSync(join(tmpdir(), 'seccomp-ebpf-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const file = (name: string, content: string | Uint8Array): string => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};

async function cli(args: string[]): Promise<{ status: number; out: string; err: string; childOut: string }> {
  const o = join(tmp, `child-${seq++}`);
  const fo = openSync(o, 'w');
  let out = '';
  let err = '';
  try {
    const status = await main(args, { writeOut: (s) => (out += s), writeErr: (s) => (err += s), childStdio: ['ignore', fo, 'inherit'] });
    return { status, out, err, childOut: readFileSync(o, 'utf8') };
  } finally {
    closeSync(fo);
  }
}

/** The CLI as a real process (from the sources). */
function cliProcess(args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], { encoding: 'utf8', timeout: 30_000, env });
}

const GETPID_LOG = `
; getpid -> LOG, everything else ALLOW
r2 = *(u32 *)(r1 + 0)
if r2 != 39 goto +2
w0 = 0x7ffc0000
exit
w0 = 0x7fff0000
exit
`;

// ---- bad input -------------------------------------------------------------------------------

test('bad input: one line `seccomp-ebpf: error[CODE]: message`, exit 2 for usage, 1 otherwise', async () => {
  const elf = readFileSync('examples/exec-once.bpf.o');
  const truncated = file('truncated.o', elf.subarray(0, 200));
  const garbage = file('garbage.s', 'r0 = 1\nthis is not eBPF\nexit\n');
  const notElf = file('odd.bin', new Uint8Array([1, 2, 3, 0, 5]));
  const cases: Array<[string[], string, number]> = [
    [['run', '--bogus', '--', '/bin/true'], 'ERR_CLI_USAGE', 2],
    [['run', '--filter', 'examples/exec-once.bpf.o'], 'ERR_CLI_NO_COMMAND', 2],
    [['run', '--filter', 'examples/exec-once.bpf.o', '/bin/true'], 'ERR_CLI_NO_COMMAND', 2],
    [['run', '--'], 'ERR_CLI_NO_COMMAND', 2],
    [['run', '--filter'], 'ERR_CLI_USAGE', 2],
    [['frob'], 'ERR_CLI_USAGE', 2],
    [[], 'ERR_CLI_NO_COMMAND', 2],
    [['disasm'], 'ERR_CLI_USAGE', 2],
    [['asm', garbage], 'ERR_CLI_USAGE', 2],
    [['run', '--filter', join(tmp, 'missing.o'), '--', '/bin/true'], 'ERR_LOAD_READ', 1],
    [['run', '--filter', tmp, '--', '/bin/true'], 'ERR_LOAD_READ', 1],
    [['run', '--filter', truncated, '--', '/bin/true'], 'ERR_ELF_MALFORMED', 1],
    [['run', '--filter', garbage, '--', '/bin/true'], 'ERR_ASM_SYNTAX', 1],
    [['run', '--filter', notElf, '--', '/bin/true'], 'ERR_INSN_TRUNCATED', 1],
    [['run', '--filter', 'examples/exec-once.bpf.o', '--program', 'nope', '--', '/bin/true'], 'ERR_ELF_PROGRAM_NOT_FOUND', 1],
    [['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'NOPE=1', '--', '/bin/true'], 'ERR_GLOBAL_UNKNOWN', 1],
    [['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF=-1', '--', '/bin/true'], 'ERR_GLOBAL_RANGE', 1],
    [['run', '--filter', 'examples/fault-inject.bpf.o', '--global', 'NTH=0x100000000', '--', '/bin/true'], 'ERR_GLOBAL_RANGE', 1],
    [['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF=12abc', '--', '/bin/true'], 'ERR_CLI_BAD_VALUE', 2],
    [['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF', '--', '/bin/true'], 'ERR_CLI_USAGE', 2],
    [['run', '--filter', 'examples/phase.bpf.o', '--map', 'nope:1=1', '--', '/bin/true'], 'ERR_MAP_UNKNOWN', 1],
    [['run', '--filter', 'examples/phase.bpf.o', '--map', 'allowed:512=1', '--', '/bin/true'], 'ERR_MAP_UPDATE', 1],
    [['run', '--filter', 'examples/phase.bpf.o', '--map', 'allowed:1=0x100000000', '--', '/bin/true'], 'ERR_MAP_VALUE', 1],
    [['run', '--filter', 'examples/phase.bpf.o', '--map', 'allowed=1', '--', '/bin/true'], 'ERR_CLI_USAGE', 2],
    [['disasm', join(tmp, 'missing.o')], 'ERR_LOAD_READ', 1],
    [['disasm', truncated], 'ERR_ELF_MALFORMED', 1],
    [['asm', join(tmp, 'missing.s'), '-o', join(tmp, 'x.bin')], 'ERR_LOAD_READ', 1],
    [['asm', garbage, '-o', join(tmp, 'x.bin')], 'ERR_ASM_SYNTAX', 1],
  ];
  for (const [args, code, status] of cases) {
    const r = await cli(args);
    const what = `seccomp-ebpf ${args.join(' ')}`;
    assert.match(r.err, new RegExp(`^seccomp-ebpf: error\\[${code}\\]: [^\\n]+\\n$`), what);
    assert.equal(r.status, status, what);
    assert.equal(r.out, '', what);
  }
});

test('bad command: 127 when not found, 126 when not executable (as env(1))', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const cases: Array<[string, string, number]> = [
    ['/nonexistent/cmd', 'ERR_SPAWN_NOT_FOUND', 127],
    ['no-such-command-seccomp-ebpf', 'ERR_SPAWN_NOT_FOUND', 127],
    ['/etc/passwd', 'ERR_SPAWN_NOT_EXECUTABLE', 126],
  ];
  for (const [cmd, code, status] of cases) {
    const r = await cli(['run', '--filter', 'examples/close-999.bpf.o', '--', cmd]);
    assert.match(r.err, new RegExp(`^seccomp-ebpf: error\\[${code}\\]: [^\\n]+\\n$`), cmd);
    assert.equal(r.status, status, cmd);
  }
});

test('as a process: usage → 2, load error → 1, no stack trace unless SECCOMP_EBPF_DEBUG=1', () => {
  const usage = cliProcess(['run', '--no-such-option', '--', '/bin/true']);
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, "seccomp-ebpf: error[ERR_CLI_USAGE]: unknown option '--no-such-option' (see seccomp-ebpf --help)\n");
  const load = cliProcess(['disasm', 'test/programs/threads.c']);
  assert.equal(load.status, 1);
  assert.match(load.stderr, /^seccomp-ebpf: error\[ERR_ASM_SYNTAX\]: .*\(test\/programs\/threads\.c, line \d+:\d+\)\n$/);
  const debug = cliProcess(['disasm', 'test/programs/threads.c'], { ...process.env, SECCOMP_EBPF_DEBUG: '1' });
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /\n\s+at .*asm\.ts/);
});

test('--help and --version', async () => {
  const help = await cli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.out, /^Usage: seccomp-ebpf \[options\] \[command\]/);
  for (const cmd of ['run', 'disasm', 'asm']) assert.match(help.out, new RegExp(`\\n  ${cmd} `));
  const runHelp = await cli(['run', '--help']);
  assert.match(runHelp.out, /Usage: seccomp-ebpf run \[options\] -- CMD \[ARGS\.\.\.\]/);
  const version = await cli(['--version']);
  assert.equal(version.out, `${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
});

// ---- disasm / asm ----------------------------------------------------------------------------

function llvmObjdump(path: string): string | undefined {
  const r = spawnSync('llvm-objdump', ['-d', path], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}
/** Instruction lines, without llvm's `<label>` branch suffixes. */
const insnLines = (text: string): string[] =>
  text.split('\n').filter((l) => /^\s+\d+:\t/.test(l)).map((l) => l.replace(/ <[^>]+>$/, ''));

test('disasm matches llvm-objdump -d on a clang object without maps', async (t) => {
  const r = await cli(['disasm', 'examples/close-999.bpf.o']);
  assert.equal(r.status, 0);
  assert.match(r.out, /^examples\/close-999\.bpf\.o:\tfile format elf64-bpf\n\nDisassembly of section seccomp:\n\n0{16} <close_999>:\n/);
  const ref = llvmObjdump('examples/close-999.bpf.o');
  if (ref === undefined) return t.skip('llvm-objdump is not installed');
  assert.deepEqual(insnLines(r.out), insnLines(ref));
});

test('disasm of an object with maps lists them and its globals', async () => {
  const r = await cli(['disasm', 'examples/phase.bpf.o']);
  assert.equal(r.status, 0);
  assert.match(r.out, /r1 = map\[0\] ll/);
  assert.match(r.out, /\nMaps:\n  map\[0\] allowed: BPF_MAP_TYPE_ARRAY \(2\), key 4, value 4, max_entries 512/);
  assert.match(r.out, /\n    \+0 TRIGGER: unsigned int, 4 bytes, const\n/);
  assert.match(r.out, /\n    \+0 triggered: unsigned int, 4 bytes\n/);
});

test('asm → raw instructions and → ELF object; both disassemble and load back', async (t) => {
  const src = file('getpid-log.s', GETPID_LOG);
  const raw = join(tmp, 'getpid-log.bin');
  const obj = join(tmp, 'getpid-log.o');
  assert.equal((await cli(['asm', src, '-o', raw])).status, 0);
  assert.equal((await cli(['asm', src, '--output', obj])).status, 0);
  assert.equal(readFileSync(raw).length, 6 * 8);
  const fromText = insnLines((await cli(['disasm', src])).out);
  const fromRaw = insnLines((await cli(['disasm', raw])).out);
  const fromObj = await cli(['disasm', obj]);
  assert.equal(fromText.length, 6);
  assert.deepEqual(fromRaw, fromText);
  assert.deepEqual(insnLines(fromObj.out), fromText);
  assert.match(fromObj.out, /file format elf64-bpf\n\nDisassembly of section seccomp:\n\n0{16} <getpid_log>:\n/);
  const ref = llvmObjdump(obj);
  if (ref === undefined) return t.skip('llvm-objdump is not installed');
  assert.deepEqual(insnLines(ref), fromText);
  assert.match(ref, /<getpid_log>:/);
});

// ---- run: output options ---------------------------------------------------------------------

test('--log writes one JSON line per decision, flushed at exit', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const log = join(tmp, 'decisions.jsonl');
  const loop = compileC({ file: 'test/programs/getpid-loop.c' });
  const r = await cli(['run', '--filter', 'examples/getpid-half.bpf.o', '--global', 'HALF=2', '--log', log, '--', loop, '5']);
  assert.equal(r.childOut, 'ok=2 eperm=3 other=0\n');
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(lines[0]!), ['ts', 'pid', 'tid', 'nr', 'syscall', 'arch', 'args', 'action']);
  assert.equal(lines[0]!.syscall, 'execve');
  assert.equal(lines.at(-1)!.syscall, 'exit_group');
  const getpid = lines.filter((l) => l.nr === 39);
  assert.deepEqual(getpid.map((l) => [l.action, l.errno]), [['allow', undefined], ['allow', undefined], ['errno', 1], ['errno', 1], ['errno', 1]]);
  for (const l of lines) {
    assert.equal(l.arch, 'x86_64');
    assert.equal((l.args as string[]).length, 6);
    assert.match((l.args as string[])[0]!, /^0x[0-9a-f]+$/);
  }
  const ts = readFileSync(log, 'utf8').match(/"ts":(\d+)/g)!.map((m) => BigInt(m.slice(5)));
  assert.ok(ts.every((v, i) => i === 0 || v >= ts[i - 1]!), 'timestamps do not go backwards');
  assert.ok(ts[0]! > 1_600_000_000_000_000_000n, 'wall-clock nanoseconds');
});

// getpid → trace_printk("hi") then ALLOW.
const TRACE_FILTER = `
r2 = *(u32 *)(r1 + 0)
if r2 != 39 goto +5
*(u32 *)(r10 - 4) = 26984
r1 = r10
r1 += -4
w2 = 3
call 6
w0 = 0x7fff0000
exit
`;

test('trace_printk and LOG go to stderr prefixed, or into the --log file', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const loop = compileC({ file: 'test/programs/getpid-loop.c' });
  const trace = file('trace.s', TRACE_FILTER);
  const p = cliProcess(['run', '--filter', trace, '--', loop, '2']);
  assert.equal(p.stdout, 'ok=2 eperm=0 other=0\n');
  assert.match(p.stderr, /^(seccomp-ebpf: trace \(tid \d+\): hi\n){2}$/);
  const logged = cliProcess(['run', '--filter', file('log.s', GETPID_LOG), '--', loop, '1']);
  assert.match(logged.stderr, /^seccomp-ebpf: log: pid \d+: getpid\(0x0, /);
  const log = join(tmp, 'trace.jsonl');
  const r = await cli(['run', '--filter', trace, '--log', log, '--', loop, '1']);
  assert.equal(r.err, '');
  const traces = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { trace?: string; tid: number }).filter((l) => l.trace);
  assert.deepEqual(traces.map((l) => l.trace), ['hi']);
});

test('an unsafe program is refused before anything runs, with the instruction and the rule', async () => {
  // The same program used to fault at run time (an 8-byte read past the context); the
  // verifier now refuses it at load, for `run` and for `verify` alike.
  const bad = file('fault.s', 'r2 = *(u32 *)(r1 + 0)\nif r2 != 39 goto +2\nr0 = *(u64 *)(r1 + 64)\nexit\nw0 = 0x7fff0000\nexit\n');
  const r = await cli(['run', '--filter', bad, '--', '/bin/true']);
  assert.equal(r.status, 1);
  assert.match(r.err, /^seccomp-ebpf: error\[ERR_VERIFY_CTX_ACCESS\]: invalid bpf_context access off=64 size=8 \(.*fault\.s, insn 2\)\n$/);
  const v = await cli(['verify', bad]);
  assert.equal(v.status, 1);
  assert.match(v.err, /error\[ERR_VERIFY_CTX_ACCESS\]: .*fault\.s: rejected for this process at insn 2: invalid bpf_context access off=64 size=8\n  state: .*R1=ctx\(\)/);
});

test('verify: the issue\'s three programs for root, an unprivileged loader and a denying LSM', async () => {
  const verdict = async (text: string, ...flags: string[]): Promise<number> => (await cli(['verify', file(`v${seq++}.s`, text), ...flags])).status;
  const task = 'call 35\nr0 = 0\nexit\n', pid = 'call 14\nr0 = 0\nexit\n', half = 'r0 = *(u32 *)(r1 + 20)\nexit\n';
  assert.deepEqual([await verdict(task), await verdict(task, '--as-unprivileged')], [0, 1]);
  assert.deepEqual([await verdict(pid), await verdict(pid, '--as-unprivileged'), await verdict(pid, '--lsm', 'deny')], [0, 0, 1]);
  assert.deepEqual([await verdict(half), await verdict(half, '--as-unprivileged'), await verdict(half, '--caps', 'bpf,perfmon')], [1, 1, 1]);
  const log = await cli(['verify', 'examples/syscall-count.bpf.o', '--log']);
  assert.equal(log.status, 0);
  assert.match(log.out, /^3: \(61\) r2 = \*\(u32 \*\)\(r1 \+ 4\) +; R2=scalar\(/m);
  assert.match(log.out, /accepted for this process/);
});

test('exit status: the command\'s code, or 128 + signal', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  assert.equal((await cli(['run', '--filter', 'examples/close-999.bpf.o', '--', '/bin/sh', '-c', 'exit 7'])).status, 7);
  assert.equal((await cli(['run', '--filter', 'examples/close-999.bpf.o', '--', '/bin/sh', '-c', 'kill -USR1 $$'])).status, 128 + 10);
  const kill = file('kill.s', 'w0 = 0x80000000\nr2 = *(u32 *)(r1 + 0)\nif r2 == 39 goto +1\nw0 = 0x7fff0000\nexit\n');
  const loop = compileC({ file: 'test/programs/getpid-loop.c' });
  assert.equal((await cli(['run', '--filter', kill, '--', loop, '1'])).status, 128 + 31);
});

test('SIGTERM to the CLI is forwarded to the command', async (t) => {
  const why = await unsupported();
  if (why) return t.skip(why);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'run', '--filter', 'examples/close-999.bpf.o', '--',
    '/bin/sh', '-c', 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve) => child.stdout.on('data', (d: string) => {
    out += d;
    if (out.includes('ready')) resolve();
  }));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(out, 'ready\ngot-term\n');
  assert.equal(code, 3);
});

test('bin/seccomp-ebpf.js (the build) runs the main job', async (t) => {
  if (!existsSync('dist/src/cli/main.js')) return t.skip('dist/ is not built (npm run build)');
  const why = await unsupported();
  if (why) return t.skip(why);
  const r = spawnSync(process.execPath, ['bin/seccomp-ebpf.js', 'run', '--filter', 'examples/exec-once.bpf.o', '--', '/bin/sh', '-c', '/bin/true; echo rc=$?'],
    { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.stdout, 'rc=126\n');
  assert.equal(r.status, 0);
});

test('a reader that stops early (| head) ends the CLI quietly, not with an EPIPE trace', () => {
  // `verify --log` writes thousands of lines into `head -1`, which exits after the first.
  const r = spawnSync('/bin/bash', ['-c', `"${process.execPath}" --import tsx src/cli/bin.ts verify examples/syscall-count.bpf.o --log | head -1; echo "cli=\${PIPESTATUS[0]}"`],
    { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.stdout, '0: R1=ctx() R10=fp0\ncli=0\n');
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/);
});

// The verifier on real filters: every example, the default policy and the corpus of
// test/fixtures/verifier (clang-built; see build.sh there) get the verdict expected.json gives,
// for root and, where listed, for an unprivileged loader; the deliberately unsafe bad-*.bpf.o
// are rejected with the expected code, at an instruction that does what the code says. Every
// program root may load then runs in the interpreter on random contexts: a fault of a verified
// program would be a verifier bug.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { SeccompEbpfError } from '../src/errors.js';
import type { Insn } from '../src/ebpf/insn.js';
import { loadProgram } from '../src/ebpf/verifier/load.js';
import type { VerifiedProgram } from '../src/ebpf/verifier/types.js';
import { LOADERS, loadCorpus, runOnContexts, type CorpusProgram } from '../scripts/fuzz.js';
import { Rng } from './helpers/progen.js';
import { validSeccompField } from './helpers/kernel-verdict.js';

const DIR = 'test/fixtures/verifier';
type Verdict = 'accept' | `ERR_${string}`;
interface Expected { root: Verdict; unprivileged?: Verdict; slow?: boolean }
const expected = (JSON.parse(readFileSync(`${DIR}/expected.json`, 'utf8')) as { programs: Record<string, Expected> }).programs;
/** Root verdicts that take the whole 1M-instruction budget are checked on request only. */
const SLOW = process.env.VERIFIER_CORPUS_SLOW === '1';
const wanted = (e: Expected, who: 'root' | 'unprivileged'): Verdict | undefined => (who === 'root' && e.slow && !SLOW ? undefined : e[who]);
const corpus = loadCorpus({ all: true });
const byName = new Map(corpus.map((p) => [p.name, p]));
const EXAMPLES = [...readdirSync('examples').filter((f) => f.endsWith('.bpf.o')).map((f) => f.replace(/\.bpf\.o$/, '')), 'default'];

const loader = (name: 'root' | 'unprivileged') => LOADERS.find((l) => l.name === name)!;

interface Result { verdict: Verdict; prog?: VerifiedProgram; error?: SeccompEbpfError }
const cache = new Map<string, Result>();

/** The verdict for `who` (computed once per program and loader). */
function verdictOf(p: CorpusProgram, who: 'root' | 'unprivileged'): Result {
  const key = `${p.name}/${who}`;
  let r = cache.get(key);
  if (r) return r;
  try {
    const prog = loadProgram(p.insns, { maps: p.maps, license: p.license, cred: loader(who).cred, file: p.name });
    r = { verdict: 'accept', prog };
  } catch (e) {
    if (!(e instanceof SeccompEbpfError)) throw e;
    r = { verdict: e.code as Verdict, error: e };
  }
  cache.set(key, r);
  return r;
}

test('expected.json lists every corpus source, and every source has its object', () => {
  const sources = readdirSync(DIR).filter((f) => f.endsWith('.bpf.c')).map((f) => f.replace(/\.bpf\.c$/, '')).sort();
  assert.deepEqual(Object.keys(expected).sort(), sources);
  for (const s of sources) assert.ok(existsSync(`${DIR}/${s}.bpf.o`), `${s}.bpf.o is missing: run bash ${DIR}/build.sh`);
  const good = sources.filter((s) => !s.startsWith('bad-'));
  const bad = sources.filter((s) => s.startsWith('bad-'));
  assert.ok(good.length >= 30, `${good.length} realistic filters, want at least 30`);
  assert.ok(bad.length >= 15, `${bad.length} unsafe programs, want about 15`);
  for (const s of good) assert.equal(expected[s]!.root, 'accept', `${s} is a realistic filter: root must be expected to load it`);
});

test('every example and the default policy verifies for root', () => {
  const failures: string[] = [];
  for (const name of EXAMPLES) {
    const r = verdictOf(byName.get(name)!, 'root');
    if (r.verdict !== 'accept') failures.push(`${name}: ${r.verdict} at insn ${r.error?.location?.insn}: ${r.error?.message}`);
  }
  assert.deepEqual(failures, []);
});

test('every corpus program gets the verdict of expected.json, for root and the unprivileged loader', () => {
  const mismatches: string[] = [];
  let checked = 0;
  for (const [name, want] of Object.entries(expected)) {
    const p = byName.get(name)!;
    for (const who of ['root', 'unprivileged'] as const) {
      const w = wanted(want, who);
      if (w === undefined) continue;
      checked++;
      const r = verdictOf(p, who);
      if (r.verdict !== w) {
        mismatches.push(`${name} (${who}): expected ${w}, got ${r.verdict}${r.error ? ` at insn ${r.error.location?.insn}: ${r.error.message}` : ''}`);
      }
    }
  }
  assert.ok(checked >= 90, `only ${checked} verdicts checked`);
  assert.deepEqual(mismatches, []);
});

/** The instruction a rejection points at must be of the kind the code talks about. */
function pointsAtTheRightInsn(code: string, insns: readonly Insn[], at: number): string | undefined {
  const x = insns[at];
  if (!x) return `insn ${at} is outside the program (${insns.length} slots)`;
  const cls = x.code & 7;
  const isCall = x.code === 0x85;
  switch (code) {
    case 'ERR_VERIFY_CTX_ACCESS': {
      // A store, or a load that is not a whole-field read (or through a modified pointer).
      if (cls === 2 || cls === 3) return undefined;
      if (cls !== 1) return `insn ${at} (code 0x${x.code.toString(16)}) is not a memory access`;
      return undefined;
    }
    case 'ERR_VERIFY_HELPER_ARG': case 'ERR_VERIFY_GPL': case 'ERR_VERIFY_HELPER_UNKNOWN':
      return isCall ? undefined : `insn ${at} is not a helper call`;
    case 'ERR_VERIFY_NULL_DEREF': case 'ERR_VERIFY_MEM_BOUNDS': case 'ERR_VERIFY_MEM_TYPE': case 'ERR_VERIFY_MAP_ACCESS':
      return cls === 1 || cls === 2 || cls === 3 || isCall ? undefined : `insn ${at} neither accesses memory nor calls a helper`;
    case 'ERR_VERIFY_REF_LEAK': case 'ERR_VERIFY_RETURN':
      return x.code === 0x95 || isCall ? undefined : `insn ${at} is not an exit or a call`;
    case 'ERR_VERIFY_PTR_LEAK': // returned, stored, passed, or partially copied (w1 = w0)
      return x.code === 0x95 || isCall || cls === 3 || cls === 4 || cls === 7 ? undefined : `insn ${at} cannot leak a pointer`;
    case 'ERR_VERIFY_INFINITE_LOOP': case 'ERR_VERIFY_CFG':
      return cls === 5 || cls === 6 ? undefined : `insn ${at} is not a jump`;
    default:
      return undefined;
  }
}

test('unsafe programs are rejected with a location, the rule broken and the register state', () => {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    for (const who of ['root', 'unprivileged'] as const) {
      const w = wanted(want, who);
      if (w === undefined || w === 'accept') continue;
      const p = byName.get(name)!;
      const r = verdictOf(p, who);
      if (!r.error || r.verdict !== w) continue; // reported by the previous test
      const at = r.error.location?.insn;
      if (typeof at !== 'number') { problems.push(`${name} (${who}): no instruction index`); continue; }
      const wrong = pointsAtTheRightInsn(w, p.insns, at);
      if (wrong) problems.push(`${name} (${who}): ${w}: ${wrong}`);
      if (!r.error.message) problems.push(`${name} (${who}): empty message`);
      const state = (r.error as SeccompEbpfError & { state?: string }).state;
      if (w.startsWith('ERR_VERIFY_') && w !== 'ERR_VERIFY_CFG' && w !== 'ERR_VERIFY_TOO_LARGE' && w !== 'ERR_VERIFY_GPL' && w !== 'ERR_VERIFY_STACK' && !/R10=fp/.test(state ?? '')) {
        problems.push(`${name} (${who}): register state missing (state: ${JSON.stringify(state)})`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the context rejections are where the context rules say: bad-half-arg at its 4-byte load of ctx+16', () => {
  const p = byName.get('bad-half-arg')!;
  const r = verdictOf(p, 'root');
  assert.equal(r.verdict, 'ERR_VERIFY_CTX_ACCESS');
  const x = p.insns[r.error!.location!.insn!]!;
  // LDX W (0x61), offset 16: half of args[0].
  assert.deepEqual({ code: x.code, off: x.off }, { code: 0x61, off: 16 });
  assert.equal(validSeccompField(x.off, 4), false);
});

/** Filters that return the same action on every one of the 300 random calls: by design (they
 *  count or log and allow), or because their other outcome needs a long history (args-hash:
 *  1000 identical calls; lru-hash: read, mmap, mprotect in a row; ktime-window: one second of
 *  the simulated clock) or a value the dictionary misses (args-nounroll: a 64-bit constant). */
const ONE_OUTCOME = new Set([
  'pid-counter', 'percpu-hash', 'percpu-stats', 'ringbuf-discard', 'ringbuf-log', 'ringbuf-path', 'trace-printk',
  'bad-key-padding', 'bad-return-ptr', 'args-hash', 'lru-hash', 'ktime-window', 'args-nounroll',
]);

test('every program root may load runs on random contexts without a fault', () => {
  const faults: string[] = [];
  const sameEveryTime: string[] = [];
  let ran = 0;
  for (const p of corpus) {
    if (expected[p.name]?.slow && !SLOW) continue;
    const r = verdictOf(p, 'root');
    if (!r.prog) continue;
    const out = runOnContexts(r.prog, new Rng(`corpus:${p.name}`), 300);
    if (out.unsupported) continue;
    ran++;
    if (out.fault !== undefined) faults.push(`${p.name}: ${out.fault}`);
    else if (new Set(out.results).size < 2) sameEveryTime.push(p.name);
  }
  assert.ok(ran >= 35, `only ${ran} programs ran`);
  assert.deepEqual(faults, []);
  // The random contexts must reach more than one outcome of every filter that has more than
  // one within reach of 300 random calls, or the runs would prove little.
  assert.deepEqual(sameEveryTime.filter((n) => !ONE_OUTCOME.has(n)), []);
});

/**
 * @module split/format
 * Text of the split's results for people (`seccomp-ebpf explain`): verdicts by name, decision
 * trees as nested if/else on seccomp_data fields, e.g.
 *
 *   if args[0].hi == 0
 *     if args[0].lo == 0x3e7 -> ERRNO(EPERM)
 *     else -> ALLOW
 *   else -> ALLOW
 */
import {
  SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF,
} from '../abi/seccomp.js';
import { formatExpr } from './expr.js';
import { formatTest, type Tree } from './tree.js';

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES',
  14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 28: 'ENOSPC', 38: 'ENOSYS', 95: 'EOPNOTSUPP',
};

/** A verdict by name: ALLOW, ERRNO(EPERM), KILL_PROCESS, TRAP(3)... */
export function formatVerdict(v: number): string {
  const data = v & SECCOMP_RET_DATA;
  switch ((v & SECCOMP_RET_ACTION_FULL) >>> 0) {
    case SECCOMP_RET_ALLOW: return 'ALLOW';
    case SECCOMP_RET_LOG: return 'LOG';
    case SECCOMP_RET_ERRNO: return `ERRNO(${ERRNO[data] ?? data})`;
    case SECCOMP_RET_TRACE: return `TRACE(${data})`;
    case SECCOMP_RET_TRAP: return `TRAP(${data})`;
    case SECCOMP_RET_USER_NOTIF: return 'USER_NOTIF';
    case SECCOMP_RET_KILL_PROCESS: return 'KILL_PROCESS';
    case SECCOMP_RET_KILL_THREAD: return 'KILL_THREAD';
    default: return `0x${(v >>> 0).toString(16)} (KILL_PROCESS)`;
  }
}

function leaf(t: Tree): string | undefined {
  switch (t.kind) {
    case 'ret': return formatVerdict(t.value);
    case 'retExpr': return `the verdict ${formatExpr(t.expr)}`;
    case 'notify': return 'supervisor';
    case 'test': return undefined;
  }
}

/** A tree as indented lines (a leaf alone is one line). */
export function formatTree(t: Tree, indent = ''): string[] {
  const l = leaf(t);
  if (l !== undefined) return [`${indent}${l}`];
  if (t.kind !== 'test') return [];
  const out: string[] = [];
  const branch = (head: string, sub: Tree): void => {
    const sl = leaf(sub);
    if (sl !== undefined) out.push(`${indent}${head} -> ${sl}`);
    else {
      out.push(`${indent}${head}`);
      out.push(...formatTree(sub, `${indent}  `));
    }
  };
  branch(`if ${formatTest(t.test)}`, t.then);
  branch('else', t.else);
  return out;
}

/**
 * @module ebpf/maps/hash-table
 * A fixed-capacity hash table in shared memory: the structure under the hash maps and task
 * storage. Callers hold the map's lock around every method (lookups too: a chain may be
 * relinked by another thread).
 *
 * Int32 words after the common control header:
 *
 *   [count, freeHead, lruHead (most recent), lruTail (least recent), nBuckets]
 *   [bucket heads: nBuckets words, -1 = empty]
 *   [element links: capacity x (chainNext, lruPrev, lruNext, hash, used)]
 *
 * Keys and values live in two more buffers, `capacity` fixed-size slots each. Free elements
 * are chained through chainNext; every used element is also on the recency list (only LRU
 * maps reorder it).
 */
import { C_HEADER } from './base.js';

const H_COUNT = C_HEADER;
const H_FREE = C_HEADER + 1;
const H_LRU_HEAD = C_HEADER + 2;
const H_LRU_TAIL = C_HEADER + 3;
const H_NBUCKETS = C_HEADER + 4;
const H_WORDS = 5;
const E_NEXT = 0;
const E_PREV_LRU = 1;
const E_NEXT_LRU = 2;
const E_HASH = 3;
const E_USED = 4;
const E_WORDS = 5;

/** Bucket count: a power of two >= capacity, like the kernel's roundup_pow_of_two. */
export function bucketCount(capacity: number): number {
  let n = 1;
  while (n < capacity) n *= 2;
  return n;
}

/** Int32 words a table of `capacity` elements needs after the common header. */
export const tableWords = (capacity: number): number => H_WORDS + bucketCount(capacity) + capacity * E_WORDS;

/** FNV-1a over the key bytes. */
function hashBytes(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  return h | 0;
}

export class HashTable {
  private readonly nBuckets: number;
  private readonly bucketBase: number;
  private readonly elemBase: number;

  constructor(
    private readonly ctl: Int32Array,
    readonly capacity: number,
    private readonly keySize: number,
    private readonly keyStore: Uint8Array,
  ) {
    this.nBuckets = bucketCount(capacity);
    this.bucketBase = C_HEADER + H_WORDS;
    this.elemBase = this.bucketBase + this.nBuckets;
  }

  /** Writes the empty-table state into fresh control words. */
  initialise(): void {
    const c = this.ctl;
    c[H_COUNT] = 0;
    c[H_LRU_HEAD] = -1;
    c[H_LRU_TAIL] = -1;
    c[H_NBUCKETS] = this.nBuckets;
    c.fill(-1, this.bucketBase, this.elemBase);
    for (let i = 0; i < this.capacity; i++) {
      const e = this.elemBase + i * E_WORDS;
      c[e + E_NEXT] = i + 1 < this.capacity ? i + 1 : -1;
      c[e + E_USED] = 0;
    }
    c[H_FREE] = this.capacity > 0 ? 0 : -1;
  }

  /** True if the control words describe a table of this geometry. */
  matches(): boolean {
    return this.ctl.length === this.elemBase + this.capacity * E_WORDS && this.ctl[H_NBUCKETS] === this.nBuckets;
  }

  get count(): number {
    return this.ctl[H_COUNT]!;
  }

  private keyEquals(i: number, key: Uint8Array): boolean {
    const ks = this.keyStore;
    const off = i * this.keySize;
    for (let j = 0; j < key.length; j++) if (ks[off + j] !== key[j]) return false;
    return true;
  }

  /** Element index of `key`, or -1. */
  find(key: Uint8Array): number {
    const c = this.ctl;
    const h = hashBytes(key);
    let i = c[this.bucketBase + ((h >>> 0) & (this.nBuckets - 1))]!;
    while (i >= 0) {
      const e = this.elemBase + i * E_WORDS;
      if (c[e + E_HASH] === h && this.keyEquals(i, key)) return i;
      i = c[e + E_NEXT]!;
    }
    return -1;
  }

  /** Inserts `key` (which must be absent); returns its element index, or -1 when full. */
  insert(key: Uint8Array): number {
    const c = this.ctl;
    const i = c[H_FREE]!;
    if (i < 0) return -1;
    const e = this.elemBase + i * E_WORDS;
    c[H_FREE] = c[e + E_NEXT]!;
    const h = hashBytes(key);
    const b = this.bucketBase + ((h >>> 0) & (this.nBuckets - 1));
    c[e + E_HASH] = h;
    c[e + E_NEXT] = c[b]!;
    c[b] = i;
    c[e + E_USED] = 1;
    this.keyStore.set(key, i * this.keySize);
    this.lruPushHead(i);
    c[H_COUNT] = c[H_COUNT]! + 1;
    return i;
  }

  /** Removes element `i` (which must be in use). */
  remove(i: number): void {
    const c = this.ctl;
    const e = this.elemBase + i * E_WORDS;
    const b = this.bucketBase + ((c[e + E_HASH]! >>> 0) & (this.nBuckets - 1));
    // Unlink from the bucket chain.
    let link = b;
    while (c[link]! !== i) link = this.elemBase + c[link]! * E_WORDS + E_NEXT;
    c[link] = c[e + E_NEXT]!;
    this.lruUnlink(i);
    c[e + E_USED] = 0;
    c[e + E_NEXT] = c[H_FREE]!;
    c[H_FREE] = i;
    c[H_COUNT] = c[H_COUNT]! - 1;
  }

  /** Marks element `i` most recently used. */
  touch(i: number): void {
    if (this.ctl[H_LRU_HEAD] === i) return;
    this.lruUnlink(i);
    this.lruPushHead(i);
  }

  /** Least recently used element, or -1 when empty. */
  leastRecent(): number {
    return this.ctl[H_LRU_TAIL]!;
  }

  /** Element indexes in use, in bucket order. */
  used(): number[] {
    const out: number[] = [];
    const c = this.ctl;
    for (let b = 0; b < this.nBuckets; b++) {
      for (let i = c[this.bucketBase + b]!; i >= 0; i = c[this.elemBase + i * E_WORDS + E_NEXT]!) out.push(i);
    }
    return out;
  }

  /** Copy of element `i`'s key. */
  keyOf(i: number): Uint8Array {
    return this.keyStore.slice(i * this.keySize, (i + 1) * this.keySize);
  }

  private lruPushHead(i: number): void {
    const c = this.ctl;
    const e = this.elemBase + i * E_WORDS;
    const head = c[H_LRU_HEAD]!;
    c[e + E_PREV_LRU] = -1;
    c[e + E_NEXT_LRU] = head;
    if (head >= 0) c[this.elemBase + head * E_WORDS + E_PREV_LRU] = i;
    else c[H_LRU_TAIL] = i;
    c[H_LRU_HEAD] = i;
  }

  private lruUnlink(i: number): void {
    const c = this.ctl;
    const e = this.elemBase + i * E_WORDS;
    const prev = c[e + E_PREV_LRU]!;
    const next = c[e + E_NEXT_LRU]!;
    if (prev >= 0) c[this.elemBase + prev * E_WORDS + E_NEXT_LRU] = next;
    else c[H_LRU_HEAD] = next;
    if (next >= 0) c[this.elemBase + next * E_WORDS + E_PREV_LRU] = prev;
    else c[H_LRU_TAIL] = prev;
  }
}

// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so that one seed replays one schedule.

/** A deterministic source of randomness; every generator draws from one of these, never Math.random. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  int(bound: number): number;
  /** An integer in [low, high] inclusive. */
  between(low: number, high: number): number;
  pick<T>(items: readonly T[]): T;
  /** A new, independent stream derived from this seed and a label (does not advance this stream). */
  fork(label: string | number): Random;
}

function splitmix32(state: number): () => number {
  let value = state >>> 0;
  return () => {
    value = (value + 0x9e3779b9) >>> 0;
    let z = value;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the label's characters: turns a fork label into 32 bits. */
function hashLabel(label: string | number): number {
  const text = String(label);
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Seeds are integers (printed at the start of every run); they are folded to 32 bits. */
export function createRandom(seed: number): Random {
  const folded = (Math.floor(seed) ^ Math.floor(seed / 0x100000000)) >>> 0;
  const seedStream = splitmix32(folded);
  let s0 = seedStream();
  let s1 = seedStream();
  let s2 = seedStream();
  let s3 = seedStream();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // xoshiro's all-zero state never leaves zero

  const nextUint32 = (): number => {
    const result = Math.imul(rotateLeft(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotateLeft(s3, 11);
    s0 >>>= 0;
    s1 >>>= 0;
    s2 >>>= 0;
    return result;
  };

  const random: Random = {
    next: () => nextUint32() / 0x100000000,
    int(bound) {
      if (!(bound >= 1)) throw new RangeError(`Random.int: bound must be >= 1, got ${bound}`);
      return Math.floor(random.next() * Math.floor(bound));
    },
    between(low, high) {
      return low + random.int(high - low + 1);
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('Random.pick: no items');
      return items[random.int(items.length)];
    },
    fork(label) {
      return createRandom((folded ^ hashLabel(label)) >>> 0 ^ Math.imul(hashLabel(`fork:${label}`), 0x9e3779b1));
    },
  };
  return random;
}

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

/** A fresh seed for a run that was not given one (printed so the run can be replayed). */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

// Delta debugging (Zeller's ddmin): the smallest subset of a failing input that still fails, found with a
// bounded number of trials, so `faultline shrink` can drop every fault window the failure does not need.

export interface DdminOptions {
  /** Trials allowed in all (each a call of `stillFails`); past it the smallest failing subset found so far is returned. */
  callsMax: number;
}

export interface DdminResult<T> {
  /** The smallest failing subset found: 1-minimal (removing any one item makes it pass) unless `exhausted`. */
  minimal: T[];
  /** Calls made of `stillFails`. */
  calls: number;
  /** The call budget ran out before the search finished. */
  exhausted: boolean;
}

/**
 * ddmin over `items`, which are assumed to fail as a whole: splits the current failing set into n chunks, tries
 * each chunk and then each complement; a failing one becomes the new set (n back to 2, or n - 1 for a
 * complement), else n doubles, until n exceeds the set's size. A subset already tried is never tried twice.
 * `stillFails` may also say undefined (the trial could not be run, e.g. interrupted): the search stops there.
 */
export async function ddmin<T>(
  items: readonly T[],
  stillFails: (subset: T[]) => Promise<boolean | undefined>,
  options: DdminOptions,
): Promise<DdminResult<T>> {
  let current = [...items];
  let calls = 0;
  const tried = new Map<string, boolean>();
  const keyOf = (subset: T[]) => subset.map((item) => items.indexOf(item)).join(',');
  let stopped = false;
  const trial = async (subset: T[]): Promise<boolean> => {
    const key = keyOf(subset);
    const known = tried.get(key);
    if (known !== undefined) return known;
    if (calls >= options.callsMax) {
      stopped = true;
      return false;
    }
    calls++;
    const verdict = await stillFails(subset);
    if (verdict === undefined) {
      stopped = true;
      return false;
    }
    tried.set(key, verdict);
    return verdict;
  };

  let chunks = 2;
  // Bounded: every round either shrinks `current` or doubles `chunks`, which stops past current.length; and
  // `trial` refuses past callsMax.
  while (current.length >= 2 && !stopped) {
    const parts = split(current, chunks);
    let reduced = false;
    for (const part of parts) {
      if (await trial(part)) {
        current = part;
        chunks = 2;
        reduced = true;
        break;
      }
      if (stopped) break;
    }
    if (!reduced && !stopped && parts.length > 2) {
      for (const part of parts) {
        const complement = current.filter((item) => !part.includes(item));
        if (await trial(complement)) {
          current = complement;
          chunks = Math.max(chunks - 1, 2);
          reduced = true;
          break;
        }
        if (stopped) break;
      }
    }
    if (reduced || stopped) continue;
    if (chunks >= current.length) break;
    chunks = Math.min(chunks * 2, current.length);
  }
  return { minimal: current, calls, exhausted: stopped && calls >= options.callsMax };
}

/** `items` cut into `count` nearly equal consecutive chunks (none empty). */
function split<T>(items: T[], count: number): T[][] {
  const parts: T[][] = [];
  let start = 0;
  for (let index = 0; index < count; index++) {
    const end = start + Math.floor((items.length - start) / (count - index));
    if (end > start) parts.push(items.slice(start, end));
    start = end;
  }
  return parts;
}

// One ArrayBuffer for a check's large typed arrays.
//
// Why: V8 counts every ArrayBuffer as external memory, and each time that grows 64 MB past its level at the
// last full collection it starts a full collection of the whole heap. Checking a million transactions takes a
// few hundred megabytes of typed arrays, allocated phase by phase, while the history itself is about 1 GB of
// op objects: each of those collections then marks that gigabyte, 0.5-0.8 s apiece on this machine, and with
// one allocation per phase there were two or three of them (measured with --trace-gc and
// --trace-incremental-marking: "Start (external memory pressure)"). Carving the arrays out of one buffer
// reserved up front makes that a single collection. Pages of the buffer that no array touches are never
// resident (a large zeroed allocation is mapped lazily), so reserving generously costs address space, not RSS.
//
// Arrays are handed out once and never reused, so each is zero-filled like a new typed array. A request that
// does not fit gets an ordinary typed array.
export class Arena {
  private readonly buffer: ArrayBuffer;
  private offset = 0;

  /** `bytes`: the reservation; 0 makes an arena that always falls back to ordinary typed arrays. */
  constructor(bytes: number) {
    this.buffer = reserve(Math.max(0, Math.ceil(bytes / 8) * 8));
  }

  int32(length: number): Int32Array {
    const start = this.take(length * 4);
    return start < 0 ? new Int32Array(length) : new Int32Array(this.buffer, start, length);
  }

  uint8(length: number): Uint8Array {
    const start = this.take(length);
    return start < 0 ? new Uint8Array(length) : new Uint8Array(this.buffer, start, length);
  }

  /** An Int32Array of `capacity` holding `array`'s elements (a grown copy). */
  grownInt32(array: Int32Array, capacity: number): Int32Array {
    const bigger = this.int32(capacity);
    bigger.set(array);
    return bigger;
  }

  grownUint8(array: Uint8Array, capacity: number): Uint8Array {
    const bigger = this.uint8(capacity);
    bigger.set(array);
    return bigger;
  }

  /** Bytes handed out so far (a measure for tests and tuning). */
  get used(): number {
    return this.offset;
  }

  /** Start of `bytes` bytes in the buffer (8-aligned), or -1 when they do not fit. */
  private take(bytes: number): number {
    const start = this.offset;
    if (bytes === 0 || start + bytes > this.buffer.byteLength) return -1;
    this.offset = start + Math.ceil(bytes / 8) * 8;
    return start;
  }
}

/** The reservation, or an empty buffer when the system refuses one that large (then every array falls back). */
function reserve(bytes: number): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes);
  } catch {
    return new ArrayBuffer(0);
  }
}

/** Falls back every time: for callers (tests, small histories) that do not reserve. */
export const noArena = new Arena(0);

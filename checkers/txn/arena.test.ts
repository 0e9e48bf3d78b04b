import { describe, expect, it } from 'vitest';
import { Arena, noArena } from './arena.js';

describe('Arena', () => {
  it('hands out disjoint, zero-filled, aligned arrays from its buffer', () => {
    const arena = new Arena(1024);
    const bytes = arena.uint8(3);
    const ints = arena.int32(5);
    const more = arena.int32(4);
    expect([...ints]).toEqual([0, 0, 0, 0, 0]);
    bytes.fill(255);
    ints.fill(-1);
    more.fill(7);
    expect([...bytes]).toEqual([255, 255, 255]);
    expect([...ints]).toEqual([-1, -1, -1, -1, -1]);
    expect([...more]).toEqual([7, 7, 7, 7]);
    expect(ints.byteOffset % 8).toBe(0);
    expect(ints.buffer).toBe(bytes.buffer);
    expect(arena.used).toBe(8 + 24 + 16);
  });

  it('falls back to ordinary arrays when a request does not fit', () => {
    const arena = new Arena(16);
    const fits = arena.int32(4);
    const spills = arena.int32(10);
    expect(spills.length).toBe(10);
    expect(spills.buffer).not.toBe(fits.buffer);
    expect(arena.used).toBe(16);
    expect(noArena.uint8(4).length).toBe(4);
  });

  it('falls back for every request when the system refuses the reservation', () => {
    const refused = new Arena(Number.MAX_SAFE_INTEGER);
    expect(refused.int32(3).length).toBe(3);
    expect(refused.used).toBe(0);
  });

  it('grows copies with the old elements first', () => {
    const arena = new Arena(256);
    const small = arena.int32(3);
    small.set([1, 2, 3]);
    expect([...arena.grownInt32(small, 5)]).toEqual([1, 2, 3, 0, 0]);
    expect([...arena.grownUint8(Uint8Array.of(9), 2)]).toEqual([9, 0]);
  });
});

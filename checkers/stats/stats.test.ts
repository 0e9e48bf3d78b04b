// Proves the stats rule: empty and all-fail histories, a function that never succeeded and dead client workers
// are 'unknown' (never 'valid'); exempt and required functions behave as documented; and the file counter agrees
// with the in-memory counts on writer-format and hand-written lines alike.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { History, Op } from '../../src/history/types.js';
import { composeCheckers } from '../types.js';
import { countFunctionOutcomesInFile } from './file.js';
import { clientWorkersChecker, FunctionOutcomeCounter, judgeFunctionStats, statsChecker, statsRulesForModel } from './index.js';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-stats-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Builds a history from [process, type, f, value] rows; time is the row number in milliseconds. */
function history(rows: Array<[number | 'nemesis', Op['type'], string, unknown]>): History {
  return rows.map(([process, type, f, value], index) => ({ index, process, type, f, value, time: index * 1_000_000 }));
}

describe('stats rule', () => {
  it('judges an empty history unknown, not valid', async () => {
    const result = await statsChecker().check({}, []);
    expect(result.valid).toBe('unknown');
    expect(result.reason).toMatch(/no client operations/);
  });

  it('judges a history of nemesis ops only unknown', async () => {
    const result = await statsChecker().check({}, history([['nemesis', 'invoke', 'kill', null], ['nemesis', 'info', 'kill', null]]));
    expect(result.valid).toBe('unknown');
  });

  it('judges a history where every op failed unknown, with the counts in the reason', async () => {
    const result = await statsChecker().check({}, history([
      [0, 'invoke', 'write', 1], [0, 'fail', 'write', 1],
      [1, 'invoke', 'read', null], [1, 'info', 'read', null],
      [2, 'invoke', 'read', null], [2, 'fail', 'read', null],
    ]));
    expect(result.valid).toBe('unknown');
    expect(result.reason).toMatch(/none of its 3 client operations succeeded/);
    expect(result.neverOk).toEqual(['read', 'write']);
  });

  it('judges a register run whose reads never succeeded unknown, naming read', async () => {
    const rules = { mustSucceed: ['read', 'write'], mayNeverSucceed: ['cas'] };
    const result = await statsChecker(rules).check({}, history([
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'read', null], [1, 'fail', 'read', null],
      [2, 'invoke', 'read', null], [2, 'info', 'read', null],
    ]));
    expect(result.valid).toBe('unknown');
    expect(result.reason).toMatch(/no read ever succeeded \(0 ok of 2: 1 fail, 1 info\)/);
  });

  it('judges a required function that was never invoked unknown', async () => {
    const verdict = judgeFunctionStats({ write: { count: 2, ok: 2, fail: 0, info: 0, incomplete: 0 } }, { mustSucceed: ['read', 'write'] });
    expect(verdict).toEqual({ valid: 'unknown', reason: expect.stringMatching(/no read was ever invoked/), neverOk: ['read'] });
  });

  it('lets an exempt function (cas) fail every time, and lists it', async () => {
    const result = await statsChecker({ mustSucceed: ['read', 'write'], mayNeverSucceed: ['cas'] }).check({}, history([
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'cas', [5, 6]], [1, 'fail', 'cas', [5, 6]],
      [2, 'invoke', 'read', null], [2, 'ok', 'read', 1],
    ]));
    expect(result).toMatchObject({ valid: true, neverOk: ['cas'] });
    expect(result.reason).toBeUndefined();
  });

  it('without rules, applies Jepsen\'s rule to every function (an all-fail cas included)', async () => {
    const result = await statsChecker().check({}, history([
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'cas', [5, 6]], [1, 'fail', 'cas', [5, 6]],
    ]));
    expect(result.valid).toBe('unknown');
    expect(result.reason).toMatch(/no cas ever succeeded/);
    expect(statsRulesForModel('cas-register')).toEqual({ mayNeverSucceed: ['cas'] });
  });

  it('composes as false beats unknown beats true', async () => {
    const constant = (name: string, valid: true | false | 'unknown') => ({ name, check: async () => ({ valid }) });
    const allFail = history([[0, 'invoke', 'read', null], [0, 'fail', 'read', null]]);
    expect((await composeCheckers('c', [constant('a', true), statsChecker()]).check({}, allFail)).valid).toBe('unknown');
    expect((await composeCheckers('c', [constant('a', false), statsChecker()]).check({}, allFail)).valid).toBe(false);
  });
});

describe('client workers', () => {
  it('is valid when none died and unknown, naming them, when some did', async () => {
    expect((await clientWorkersChecker([]).check({}, [])).valid).toBe(true);
    const result = await clientWorkersChecker(['thread 2 (n3): JSON.stringify cannot serialize a BigInt']).check({}, []);
    expect(result.valid).toBe('unknown');
    expect(result.reason).toMatch(/1 client worker died before the run ended \(thread 2 \(n3\)/);
  });
});

describe('counting a file', () => {
  it('gives the in-memory counts for writer lines, reordered fields, escaped names and nemesis lines', () => {
    const lines = [
      '{"process":0,"type":"invoke","f":"write","key":1,"value":1,"time":1,"index":0}',
      '{"process":"nemesis","type":"invoke","f":"kill","value":null,"time":2,"index":1}',
      '{"process":0,"type":"ok","f":"write","key":1,"value":1,"time":3,"index":2}',
      '{"f":"read","type":"invoke","process":1,"value":null,"time":4}',
      '{"f":"read","type":"fail","process":1,"value":null,"time":5}',
      '{"process":2,"type":"invoke","f":"we\\"ird","value":null,"time":6}',
      '{"process":2,"type":"info","f":"we\\"ird","value":null,"time":7}',
      '{"process":3,"type":"invoke","f":"read","value":null,"time":8}',
    ];
    const file = join(scratch, 'history.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const counter = new FunctionOutcomeCounter();
    for (const line of lines) {
      const op = JSON.parse(line) as Op;
      counter.add(op.process, op.type, op.f);
    }
    const expected = {
      write: { count: 1, ok: 1, fail: 0, info: 0, incomplete: 0 },
      read: { count: 2, ok: 0, fail: 1, info: 0, incomplete: 1 },
      'we"ird': { count: 1, ok: 0, fail: 0, info: 1, incomplete: 0 },
    };
    expect(counter.counts()).toEqual(expected);
    expect(countFunctionOutcomesInFile(file)).toEqual(expected);
  });

  it('skips blank and zero-filled lines and a torn last line, as the history reader does', () => {
    const file = join(scratch, 'torn.jsonl');
    writeFileSync(file, '{"process":0,"type":"invoke","f":"read","value":null,"time":1}\n\n\0\0\0\n{"process":0,"type":"ok","f":"read","value":3,"time":2}\n{"process":1,"type":"inv');
    expect(countFunctionOutcomesInFile(file)).toEqual({ read: { count: 1, ok: 1, fail: 0, info: 0, incomplete: 0 } });
  });

  it('rejects a malformed line as the history reader does', () => {
    const file = join(scratch, 'bad.jsonl');
    writeFileSync(file, '{"process":0,"type":"invoke","f":"read","value":null}\n{"process":0,"type":"okay","f":"read"}\n');
    expect(() => countFunctionOutcomesInFile(file)).toThrow(/bad\.jsonl:2: expected "type"/);
  });
});

/**
 * Ray's log deduplication, ported from python/ray/tests/test_log_dedup.py
 * (test_nodedup_logs_single_process, test_dedup_logs_multiple_processes,
 * test_dedup_logs_allow_and_skip_regexes, test_dedup_logs_numbers_only): the first line of a
 * pattern prints at once; the same pattern from other processes within the window is held and
 * printed once with its count.
 */
import { LogDeduplicator, canonicalLine, type LogBatch } from '../../../src/observability/log-dedup';

let now = 142300000_000;
const dedup = (o: Partial<ConstructorParameters<typeof LogDeduplicator>[0]> = {}): LogDeduplicator<string> => new LogDeduplicator<string>({ windowS: 5, ...o }, () => now);
const batch = (source: string, lines: string[]): LogBatch<string> => ({ source, meta: source, lines });

test('the pattern of a line ignores words with numbers', () => {
  expect(canonicalLine('good bye id=123, 0x13')).toBe('good bye');
  expect(canonicalLine('  hello   world ')).toBe('hello world');
  expect(canonicalLine('42')).toBe('');
});

test('lines of one process always print at once (test_nodedup_logs_single_process)', () => {
  const d = dedup();
  const b = batch('node1:100', ['hello world', 'good bye id=123, 0x13']);
  for (let i = 0; i < 3; i++) expect(d.deduplicate(b)).toEqual([b]);
});

test('repeats across processes print once their window passes (test_dedup_logs_multiple_processes)', () => {
  const d = dedup();
  const b1 = batch('node1:100', ['hello world', 'good bye id=123, 0x13']);
  const b2 = batch('node1:200', ['hello world', 'good bye id=456, 0x11', 'extra message']);
  const b3 = batch('node2:200', ['hello world', 'good bye id=999, 0xfa', 'extra message']);
  const b4 = batch('node3:100', ['hello world', 'something else']);
  expect(d.deduplicate(b1)).toEqual([b1]);
  now += 1000;
  expect(d.deduplicate(b2)).toEqual([batch('node1:200', ['extra message'])]);
  now += 1000;
  expect(d.deduplicate(b3)).toEqual([batch('node2:200', [])]);
  now += 5000;
  const out = d.deduplicate(b4);
  expect(out).toHaveLength(4);
  expect(out).toContainEqual(batch('node3:100', ['something else']));
  expect(out).toContainEqual({ source: '', meta: 'node3:100', lines: ['hello world [repeated 3x across cluster]'] });
  expect(out).toContainEqual({ source: '', meta: 'node2:200', lines: ['good bye id=999, 0xfa [repeated 2x across cluster]'] });
  expect(out).toContainEqual({ source: '', meta: 'node2:200', lines: ['extra message'] });
  expect(d.flush()).toEqual([]);
  d.deduplicate(b3);
  d.deduplicate(b4);
  d.deduplicate(b4);
  expect(d.flush()).toEqual([{ source: '', meta: 'node3:100', lines: ['hello world [repeated 2x across cluster]'] }]);
});

test('allow and skip patterns (test_dedup_logs_allow_and_skip_regexes)', () => {
  const d = dedup({ allow: /ALLOW_ME/, skip: /SKIP_ME/ });
  const b1 = batch('node1:100', ['hello world', 'good bye ALLOW_ME']);
  const b2 = batch('node1:200', ['hello world', 'good bye ALLOW_ME', 'extra message SKIP_ME']);
  expect(d.deduplicate(b1)).toEqual([b1]);
  expect(d.deduplicate(b2)).toEqual([batch('node1:200', ['good bye ALLOW_ME'])]);
});

test('lines of numbers only always print (test_dedup_logs_numbers_only)', () => {
  const d = dedup();
  expect(d.deduplicate(batch('node1:100', ['1']))).toEqual([batch('node1:100', ['1'])]);
  now += 1000;
  expect(d.deduplicate(batch('node2:200', ['2']))).toEqual([batch('node2:200', ['2'])]);
  expect(d.deduplicate(batch('node3:300', ['2']))).toEqual([batch('node3:300', ['2'])]);
});

test('the first collapsed line says how to turn deduplication off; pending and expiry are known', () => {
  const d = dedup({ firstNotice: '(off: RAYBUS_DEDUP_LOGS=0)' });
  d.deduplicate(batch('a:1', ['x']));
  expect(d.nextExpiry()).toBe(now + 5000);
  d.deduplicate(batch('b:2', ['x']));
  d.deduplicate(batch('c:3', ['x']));
  expect(d.pending).toBe(2);
  now += 5000;
  expect(d.expire()).toEqual([{ source: '', meta: 'c:3', lines: ['x [repeated 2x across cluster] (off: RAYBUS_DEDUP_LOGS=0)'] }]);
  d.deduplicate(batch('b:2', ['x']));
  d.deduplicate(batch('c:3', ['x']));
  expect(d.flush()).toEqual([{ source: '', meta: 'c:3', lines: ['x [repeated 2x across cluster]'] }]);
});

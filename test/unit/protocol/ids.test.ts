/**
 * Unique ids and return ids: their text (a prefix, then hex digits), which other processes
 * parse (`idCounter`, `taskOfObject`), whatever way they are assembled.
 */
import { idCounter, joinId, newIdSource, returnId, streamItemId, taskOfObject, type TaskId } from '../../../src/protocol/ids';

test('a unique id is its prefix and 10 hex digits of a counter from 1', () => {
  const ids = newIdSource('0123456789ab');
  expect(ids.next()).toBe('0123456789ab0000000001');
  for (let i = 2; i < 255; i++) ids.next();
  expect(ids.next()).toBe('0123456789ab00000000ff');
  expect(joinId('p', 0xabcdef)).toBe('p0000abcdef');
  expect(idCounter(joinId('0123456789ab', 123_456_789), '0123456789ab')).toBe(123_456_789);
});

test('return ids are the task id and 4 hex digits of the index, and lead back to the task', () => {
  const task = 'aabbccddeeff0000000007' as TaskId;
  expect(returnId(task, 0)).toBe('aabbccddeeff00000000070000');
  expect(returnId(task, 0x1f)).toBe('aabbccddeeff0000000007001f');
  expect(taskOfObject(returnId(task, 3))).toBe(task);
  expect(streamItemId(task, 2)).toBe('aabbccddeeff0000000007s00000002');
});

test('a counter past its digits, a long prefix and one outside Latin-1 still give the same text as joining strings', () => {
  expect(joinId('p', 16 ** 10 + 1)).toBe(`p${(16 ** 10 + 1).toString(16)}`);
  const long = 'x'.repeat(300);
  expect(joinId(long, 5)).toBe(`${long}0000000005`);
  expect(returnId('ταυ' as TaskId, 1)).toBe('ταυ0001');
  expect(returnId('ÿé' as TaskId, 1)).toBe('ÿé0001');
});

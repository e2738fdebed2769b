/** The state API's and logs' messages are checked on arrival like every other message. */
import { decodeMessage, decodeTopicMessage } from '../../../src/serialization/message-codec';
import { encodeEnvelope, MalformedMessageError } from '../../../src/serialization/serializer';

const q = { req: 'r', reply: 'raybus.reply.x', filters: [['state', '=', 'RUNNING'], ['pid', '!=', 4]], limit: 100, detail: false };

test('accept what raybus sends', () => {
  expect(() => decodeTopicMessage('state', encodeEnvelope({ t: 'state-query', what: 'tasks', ...q, cursor: 'abc' }))).not.toThrow();
  expect(() => decodeMessage('broker', encodeEnvelope({ t: 'state-request', what: 'actors', ...q, ids: ['a1'] }))).not.toThrow();
  expect(() => decodeMessage('broker', encodeEnvelope({ t: 'actor-ready', actor: 'a', worker: 'w', pid: 12 }))).not.toThrow();
  expect(() => decodeMessage('node', encodeEnvelope({ t: 'read-log', req: 'r', reply: 'raybus.reply.x', worker: 'w', stream: 'err', offset: 0, max: 1024 }))).not.toThrow();
  const answer = {
    t: 'state-answer',
    req: 'r',
    from: { kind: 'worker', id: 'w1', nodeId: 'n1', pid: 3 },
    items: [{ taskId: 't', state: 'RUNNING', requiredResources: { CPU: 1 } }],
    total: 1,
    more: false,
    dropped: 2,
    running: [['t', 'A.m']],
    summary: { f: { funcOrClassName: 'f', type: 'NORMAL_TASK', stateCounts: { RUNNING: 1 } } },
    counts: { A: { ALIVE: 1 } },
  };
  expect(() => decodeMessage('reply', encodeEnvelope(answer))).not.toThrow();
  expect(() => decodeMessage('reply', encodeEnvelope({ t: 'log-lines', pid: 3, node: 'n', worker: 'w', lines: [{ name: 'f', text: 'hi', err: true }] }))).not.toThrow();
  expect(() => decodeMessage('reply', encodeEnvelope({ t: 'log-chunk', req: 'r', data: 'x\n', next: 2, size: 2 }))).not.toThrow();
  expect(() => decodeMessage('worker', encodeEnvelope({ t: 'task', task: 't', fn: { id: 'c', name: 'f', kind: 'function' }, args: [], nret: 1, owner: 'o', ctx: { jobId: 'j', namespace: 'n', attempt: 0, nolog: true }, lease: 'l' }))).not.toThrow();
});

test('refuse malformed ones with the reason', () => {
  const bad = (kind: Parameters<typeof decodeMessage>[0], msg: unknown, re: RegExp): void => {
    expect(() => decodeMessage(kind, encodeEnvelope(msg))).toThrow(MalformedMessageError);
    expect(() => decodeMessage(kind, encodeEnvelope(msg))).toThrow(re);
  };
  expect(() => decodeTopicMessage('state', encodeEnvelope({ t: 'state-query', what: 'secrets', ...q }))).toThrow(/what must be one of/);
  expect(() => decodeTopicMessage('state', encodeEnvelope({ t: 'state-query', what: 'tasks', ...q, filters: [['state', '>', 1]] }))).toThrow(/filters\[0\]\[1\]/);
  expect(() => decodeTopicMessage('state', encodeEnvelope({ t: 'state-query', what: 'tasks', ...q, limit: -1 }))).toThrow(/limit must be an integer/);
  bad('broker', { t: 'state-request', what: 'tasks', ...q }, /what must be one of/);
  bad('node', { t: 'read-log', req: 'r', reply: 'x', worker: 'w', stream: 'log', offset: 0, max: 1 }, /stream must be one of/);
  bad('reply', { t: 'log-lines', pid: 3, node: 'n', worker: 'w', lines: [{ name: 'f' }] }, /lines\[0\].text must be a string/);
  bad('reply', { t: 'state-answer', req: 'r', from: { kind: 'alien', id: 'x' }, items: [], total: 0, more: false }, /from.kind must be one of/);
  bad('reply', { t: 'state-answer', req: 'r', from: { kind: 'driver', id: 'x' }, items: [5], total: 0, more: false }, /items\[0\] must be an object/);
});

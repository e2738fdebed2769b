import { decodeMessage, decodeTopicMessage } from '../../../src/serialization/message-codec';
import { encodeEnvelope, MalformedMessageError } from '../../../src/serialization/serializer';

const code = { id: 'c1', name: 'f', kind: 'function', source: '(x) => x' };
const ctx = { jobId: 'j1', namespace: 'ns', attempt: 0 };
const arg = { d: new Uint8Array([0x01]) };
const spec = {
  actorId: 'a1',
  cls: { ...code, kind: 'class' },
  args: [arg],
  owner: 'raybus.reply.driver-x',
  meta: { actorId: 'a1', className: 'A', methods: { m: { numReturns: 2 } }, isAsync: false, maxTaskRetries: 0, maxPendingCalls: -1, namespace: 'ns' },
  placement: { CPU: 1 },
  lifetime: {},
  strategy: { kind: 'DEFAULT' },
  maxRestarts: 0,
  detached: false,
  maxConcurrency: 1,
  ctx,
  getIfExists: false,
};

const rejects = (kind: Parameters<typeof decodeMessage>[0], msg: unknown, problem: RegExp): void => {
  expect(() => decodeMessage(kind, encodeEnvelope(msg))).toThrow(MalformedMessageError);
  expect(() => decodeMessage(kind, encodeEnvelope(msg))).toThrow(problem);
};

describe('message schemas', () => {
  it('accept what raybus sends', () => {
    const ok: Array<[Parameters<typeof decodeMessage>[0], unknown]> = [
      ['broker', { t: 'request-lease', req: 'r', owner: 'o', demand: { CPU: 1 }, strategy: { kind: 'NODE_AFFINITY', nodeId: 'n', soft: true }, desc: '' }],
      ['broker', { t: 'create-actor', req: 'r', spec }],
      ['broker', { t: 'node-register', node: 'n', resources: { CPU: 2 }, labels: {}, leases: [{ lease: 'l', worker: 'w', demand: {}, gpuIds: [0], actor: spec }] }],
      ['node', { t: 'start-lease', lease: 'l', req: 'r', owner: 'o', demand: { CPU: 1 }, gpuIds: [], env: { envVars: { A: 'b' }, modules: ['x'] } }],
      ['worker', { t: 'task', task: 't', fn: code, args: [arg, { d: new Uint8Array(2), r: [['id', 'owner']] }], nret: -1, owner: 'o', ctx, lease: 'l' }],
      ['mailbox', { t: 'call', task: 't', method: 'm', args: [], nret: 2, owner: 'o', ctx, retries: -1 }],
      ['reply', { t: 'result', task: 't', rets: [{ d: new Uint8Array(1) }, { e: { name: 'Error', message: 'x', cause: { name: 'TypeError', message: 'y' } } }], us: 12.5 }],
      ['presence', { t: 'probe' }],
    ];
    for (const [kind, msg] of ok) expect(() => decodeMessage(kind, encodeEnvelope(msg))).not.toThrow();
    expect(decodeTopicMessage('owner-died', encodeEnvelope({ owner: 'raybus.reply.w1' }))).toEqual({ owner: 'raybus.reply.w1' });
  });

  it('refuse the poison messages that used to crash a process', () => {
    // A lease request with a null strategy or demand threw outside any handler in the broker.
    rejects('broker', { t: 'request-lease', req: 'r', owner: 'o', demand: { CPU: 1 }, strategy: null, desc: '' }, /strategy must be an object/);
    rejects('broker', { t: 'request-lease', req: 'r', owner: 'o', demand: null, strategy: { kind: 'DEFAULT' }, desc: '' }, /demand must be an object/);
    rejects('broker', { t: 'request-lease', req: 'r', owner: 'o', demand: { CPU: -1 }, strategy: { kind: 'DEFAULT' }, desc: '' }, /demand.CPU must be a number >= 0/);
    rejects('broker', { t: 'request-lease', req: 'r', owner: 'o', demand: {}, strategy: { kind: 'WEIRD' }, desc: '' }, /unknown message 'WEIRD'/);
    // An owner-register with a non-string field crashed the leader seconds later.
    rejects('broker', { t: 'owner-register', owner: 5, presence: 'p' }, /owner must be a string/);
    // A task with a null argument entry or an absurd number of returns killed its worker.
    rejects('worker', { t: 'task', task: 't', fn: code, args: [null], nret: 1, owner: 'o', ctx, lease: 'l' }, /args\[0\] must be an object/);
    rejects('worker', { t: 'task', task: 't', fn: code, args: [], nret: 1e9, owner: 'o', ctx, lease: 'l' }, /nret must be an integer in \[-2, 10000\]/);
    rejects('mailbox', { t: 'call', task: 't', method: 'm', args: [], nret: 1, owner: 'o', ctx: { ...ctx, env: { modules: [5] } }, retries: 0 }, /modules\[0\] must be a string/);
    rejects('reply', { t: 'lease-granted', req: 'r', lease: 'l', worker: 'w' }, /node must be a string/);
    rejects('reply', { t: 'nope' }, /unknown message 'nope'/);
    rejects('reply', { x: 1 }, /no message tag/);
    expect(() => decodeMessage('broker', Uint8Array.from([0x93, 1, 2, 3]))).toThrow(/not a raybus envelope/);
    expect(() => decodeMessage('broker', Uint8Array.from([0x81, 0xa1, 0x74]))).toThrow(/truncated/);
  });

  it('bounds what a handler may iterate', () => {
    rejects('broker', { t: 'leases-held', owner: 'o', leases: Array.from({ length: 100_001 }, () => ['l', 'n']) }, /more than 100000 entries/);
    rejects('broker', { t: 'get-actor', req: 'r', reply: 'q', name: 'x'.repeat(2000), namespace: 'ns' }, /longer than 1024 characters/);
  });
});

describe('messages of blocked leases, actor scope and actor call retries', () => {
  it('accept what raybus sends', () => {
    const ok: Array<[Parameters<typeof decodeMessage>[0], unknown]> = [
      ['node', { t: 'worker-blocked', lease: 'g1@n', blocked: true }],
      ['broker', { t: 'lease-blocked', node: 'n', lease: 'g1@n', blocked: false }],
      ['broker', { t: 'actor-out-of-scope', actor: 'a1', owner: 'raybus.reply.driver-x' }],
      ['broker', { t: 'register-actor', owner: 'raybus.reply.driver-x', meta: spec.meta }],
      ['broker', { t: 'node-register', node: 'n', resources: { CPU: 2 }, labels: {}, leases: [{ lease: 'l', worker: 'w', demand: { CPU: 1 }, gpuIds: [], blocked: true }] }],
      ['reply', { t: 'tasks-returned', lease: 'l', tasks: [], blocked: true }],
      ['reply', { t: 'call-redelivered', task: 't', reply: 'raybus.reply.w1' }],
      ['reply', { t: 'call-verdict', task: 't', run: true, attempt: 2 }],
      ['reply', { t: 'result', task: 't', rets: [{ e: { name: 'E', message: 'x', origin: ['/app/errors.js', 'E'] } }] }],
    ];
    for (const [kind, msg] of ok) expect(() => decodeMessage(kind, encodeEnvelope(msg))).not.toThrow();
  });

  it('refuse malformed ones', () => {
    rejects('node', { t: 'worker-blocked', lease: 'g1@n', blocked: 'yes' }, /blocked must be a boolean/);
    rejects('broker', { t: 'actor-out-of-scope', actor: 'a1' }, /owner must be a string/);
    rejects('reply', { t: 'call-verdict', task: 't', run: true, attempt: -1 }, /attempt must be an integer/);
    rejects('reply', { t: 'result', task: 't', rets: [{ e: { name: 'E', message: 'x', origin: ['/app/errors.js'] } }] }, /origin/);
  });
});

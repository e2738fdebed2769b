/**
 * The check of messages bound for workers: anything malformed (undecodable bytes, a task
 * without its fields) is dead-lettered with a reason before a worker acts on it, so it never
 * crashes one.
 */
import { decodeEnvelope } from '../serialization/serializer';
import { logger } from '../util/logger';

type Shape = Record<string, 'string' | 'number' | 'object' | 'array'>;

const SHAPES: Record<string, Shape> = {
  task: { task: 'string', fn: 'object', args: 'array', nret: 'number', owner: 'string', ctx: 'object', lease: 'string' },
  call: { task: 'string', method: 'string', args: 'array', nret: 'number', owner: 'string', ctx: 'object' },
  'host-actor': { spec: 'object', nodeId: 'string' },
};

const SPEC: Shape = { actorId: 'string', cls: 'object', args: 'array', owner: 'string', meta: 'object', ctx: 'object' };
const CODE: Shape = { id: 'string', name: 'string', kind: 'string' };

/**
 * Why the decoded `msg` is not a message a worker can take, or undefined when it is. Workers
 * check what they decode before acting on it; the node does not decode on their behalf
 * (that would decode every message twice on the busiest process).
 */
export function workerMessageProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a raybus envelope';
  const msg = value as Record<string, unknown>;
  if (typeof msg.t !== 'string') return 'no message tag';
  const shape = SHAPES[msg.t];
  if (!shape) return undefined;
  const bad = mismatch(msg, shape);
  if (bad) return `'${msg.t}' without a valid '${bad}'`;
  if (msg.t === 'task') {
    const fnBad = mismatch(msg.fn as Record<string, unknown>, CODE);
    if (fnBad) return `'task' with a malformed code descriptor ('${fnBad}')`;
  }
  if (msg.t === 'host-actor') {
    const spec = msg.spec as Record<string, unknown>;
    const specBad = mismatch(spec, SPEC) ?? mismatch(spec.cls as Record<string, unknown>, CODE);
    if (specBad) return `'host-actor' with a malformed spec ('${specBad}')`;
  }
  return undefined;
}

/** Decode a message bound for a worker and check its shape; throws with the reason. */
export function decodeWorkerMessage(body: Uint8Array): unknown {
  const b = body[0];
  // Every raybus envelope is a msgpack map (fixmap, map16, map32).
  if (b === undefined || !((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf)) throw new TypeError('not a raybus envelope');
  let msg: unknown;
  try {
    msg = decodeEnvelope(body);
  } catch (err) {
    throw new TypeError(`undecodable: ${(err as Error).message}`);
  }
  const problem = workerMessageProblem(msg);
  if (problem) throw new TypeError(problem);
  return msg;
}

let rejected = 0;
/** Dead-letter a malformed message with its reason; warn for the first and every 100th. */
export function rejectMalformed(d: { nack(requeue: boolean, reason?: string): void; queue: string }, err: unknown): void {
  const problem = (err as Error).message;
  d.nack(false, `malformed: ${problem}`);
  if (rejected++ % 100 === 0) logger.warn(`raybus worker: rejected a malformed message on ${d.queue} (${problem}; ${rejected} so far)`);
}

function mismatch(obj: Record<string, unknown>, shape: Shape): string | undefined {
  for (const [key, type] of Object.entries(shape)) {
    const v = obj[key];
    const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === type;
    if (!ok) return key;
  }
  return undefined;
}

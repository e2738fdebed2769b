/**
 * The node's check of messages bound for its workers: a worker trusts the shape of what its
 * node hands it, so anything malformed (undecodable bytes, a task without its fields) is
 * dead-lettered here, with a reason, and never reaches — let alone crashes — a worker.
 */
import { decodeEnvelope } from '../serialization/serializer';

type Shape = Record<string, 'string' | 'number' | 'object' | 'array'>;

const SHAPES: Record<string, Shape> = {
  task: { task: 'string', fn: 'object', args: 'array', nret: 'number', owner: 'string', ctx: 'object', lease: 'string' },
  call: { task: 'string', method: 'string', args: 'array', nret: 'number', owner: 'string', ctx: 'object' },
  'host-actor': { spec: 'object', nodeId: 'string' },
};

const SPEC: Shape = { actorId: 'string', cls: 'object', args: 'array', owner: 'string', meta: 'object', ctx: 'object' };
const CODE: Shape = { id: 'string', name: 'string', kind: 'string' };

/** Why `body` is not a message a worker can take from `queue`, or undefined when it is. */
export function workerMessageProblem(body: Uint8Array): string | undefined {
  const b = body[0];
  // Every raybus envelope is a msgpack map (fixmap, map16, map32).
  if (b === undefined || !((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf)) return 'not a raybus envelope';
  let msg: Record<string, unknown>;
  try {
    msg = decodeEnvelope(body) as Record<string, unknown>;
  } catch (err) {
    return `undecodable: ${(err as Error).message}`;
  }
  if (typeof msg !== 'object' || msg === null || typeof msg.t !== 'string') return 'no message tag';
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

function mismatch(obj: Record<string, unknown>, shape: Shape): string | undefined {
  for (const [key, type] of Object.entries(shape)) {
    const v = obj[key];
    const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === type;
    if (!ok) return key;
  }
  return undefined;
}

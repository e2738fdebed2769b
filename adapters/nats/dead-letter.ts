/**
 * Dead letters: `nack(false, reason)` keeps a copy of the message, with the reason and its
 * queue in headers, in the name space's dead-letter stream (2.9's `+TERM` carries no reason).
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { BATCH_HEADER } from './publisher';
import type { Link } from './connection';
import type { Naming } from './naming';
import type { ResolvedNatsTransportOptions } from './options';
import type { Topology } from './topology';

/** Header of a dead-letter copy: the reason given to `nack(false, reason)`. */
export const DEATH_REASON_HEADER = 'Raybus-Death-Reason';
/** Header of a dead-letter copy: the queue it was dropped from. */
export const DEATH_QUEUE_HEADER = 'Raybus-Death-Queue';
const MAX_REASON_LENGTH = 1024;

/**
 * Store a copy of a message (`body`, `headers`: a message from `queue`, or one message of a
 * batch with the batch's headers) in the dead-letter stream; resolves once stored, or once a
 * failure was reported.
 */
export async function keepDeadLetterCopy(
  link: Link,
  topology: Topology,
  naming: Naming,
  options: ResolvedNatsTransportOptions,
  queue: string,
  body: Uint8Array,
  headers: MsgHdrs | undefined,
  reason: string | undefined,
): Promise<void> {
  const h = natsHeaders();
  if (headers) for (const name of headers.keys()) if (!/^nats-/i.test(name) && name !== BATCH_HEADER) h.set(name, headers.get(name));
  h.set(DEATH_REASON_HEADER, sanitizeReason(reason ?? 'rejected'));
  h.set(DEATH_QUEUE_HEADER, queue);
  try {
    await topology.ensureDeadLetters(link);
    await link.nc.request(naming.deadLetterSubject(queue), body, { headers: h, timeout: options.apiTimeoutMs });
  } catch (err) {
    options.onWarning(`raybus nats: could not keep a dead-letter copy of a message from '${queue}'`, err);
  }
}

/** A reason a header line can carry: control characters become spaces, at most 1024 characters. */
function sanitizeReason(reason: string): string {
  let out = '';
  for (const ch of reason) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c === 0x7f ? ' ' : ch;
  }
  return out.trim().slice(0, MAX_REASON_LENGTH) || 'rejected';
}

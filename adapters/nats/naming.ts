/**
 * How raybus names map onto NATS subjects, stream names and KV keys. Pure functions: every
 * process derives the same names from the same queue, so they agree without coordination.
 *
 * Queue and topic names may hold any character ('.', ':', spaces...), but a subject token may
 * not hold '.', '*', '>' or whitespace, and a stream name neither those nor path separators.
 * {@link escapeName} maps a name to a token deterministically and injectively: letters,
 * digits and '-' stay, '.' becomes '_', every other byte of its UTF-8 becomes '=' and two
 * upper-case hex digits ('_' itself is '=5F'). `raybus.actor.7` → `raybus_actor_7`.
 */
import { createHash } from 'node:crypto';

/** Longest stream name made from a queue name; longer ones end in a hash instead. */
const MAX_STREAM_NAME = 200;

function isKept(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d;
}

/** A raybus name as one subject token / stream-name part (see the file comment). */
export function escapeName(name: string): string {
  let out = '';
  let plain = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || !(isKept(c) || c === 0x2e)) {
      plain = false;
      break;
    }
  }
  if (plain) return name.replace(/\./g, '_');
  for (const byte of Buffer.from(name, 'utf8')) {
    if (isKept(byte)) out += String.fromCharCode(byte);
    else if (byte === 0x2e) out += '_';
    else out += '=' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The names one queue has on the server. */
export interface QueueNames {
  /** Subject a publish goes to: captured by the queue's stream, or answered by a presence holder. */
  readonly subject: string;
  /** JetStream stream holding the queue's messages (work queues). */
  readonly stream: string;
  /** Core NATS subject of the queue's transient messages, captured by no stream (memory-inbox.ts). */
  readonly memory: string;
}

/** Derives every server-side name of one transport's name space. */
export class Naming {
  private readonly queues = new Map<string, QueueNames>();
  private readonly topics = new Map<string, string>();

  constructor(readonly namespace: string) {}

  /** Name of the one durable pull consumer of every queue stream (streams are per queue). */
  get consumer(): string {
    return 'raybus-queue';
  }

  queue(name: string): QueueNames {
    let names = this.queues.get(name);
    if (!names) {
      const token = escapeName(name);
      let stream = `${this.namespace}_q_${token}`;
      if (stream.length > MAX_STREAM_NAME) {
        // '==' never occurs in an escaped name ('=' is always followed by two hex digits).
        stream = `${stream.slice(0, MAX_STREAM_NAME - 34)}==${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
      }
      names = { subject: `${this.namespace}.q.${token}`, stream, memory: `${this.namespace}.m.${token}` };
      if (this.queues.size >= 10_000) this.queues.clear();
      this.queues.set(name, names);
    }
    return names;
  }

  /** Subject of a broadcast topic (core NATS, exact match). */
  topic(name: string): string {
    let subject = this.topics.get(name);
    if (subject === undefined) {
      subject = `${this.namespace}.t.${escapeName(name)}`;
      if (this.topics.size >= 10_000) this.topics.clear();
      this.topics.set(name, subject);
    }
    return subject;
  }

  /** Stream holding copies of messages dropped with `nack(false, reason)`. */
  get deadLetterStream(): string {
    return `${this.namespace}_dead-letters`;
  }

  /** Subject of the dead-letter copy of a message from `queue`. */
  deadLetterSubject(queue: string): string {
    return `${this.namespace}.dlq.${escapeName(queue)}`;
  }

  /** Subjects of the dead-letter stream. */
  get deadLetterFilter(): string {
    return `${this.namespace}.dlq.>`;
  }

  /** KV bucket of leases with a time to live of `ttlMs` (2.9 has no per-key TTL: one bucket per TTL). */
  leaseBucket(ttlMs: number): string {
    return `${this.namespace}_lease_${ttlMs}`;
  }

  /** Stream names of this name space begin with this (what a cleanup of a test name space deletes). */
  get streamPrefix(): string {
    return `${this.namespace}_`;
  }
}

/** The KV conventions (stream `KV_<bucket>`, subjects `$KV.<bucket>.<key>`), so `nats kv` tools see the bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${escapeName(key)}`;
}

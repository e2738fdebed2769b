/**
 * `MessageHeaders` as NATS headers. NATS header values are strings, so values that are not
 * plain strings are listed in one extra header, `Raybus-Types`, a JSON object naming each such
 * key's type: `n` number, `b` boolean, `j` a string sent JSON-encoded (one with a line break,
 * surrounding spaces or control characters, which a header line cannot carry as is).
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { MessageHeaders } from '../../src/transport/transport';
import { NatsTransportError } from './errors';

export const TYPES_HEADER = 'Raybus-Types';

/** A header name NATS can carry: printable ASCII without ':' or spaces, not reserved. */
const HEADER_NAME = /^[!-9;-~]+$/;
/** Can a header line carry `value` unchanged? The client trims spaces, and CR/LF end the line. */
function isPlainValue(value: string): boolean {
  if (value.length === 0) return true;
  if (/^\s|\s$/.test(value)) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

export interface EncodedHeaders {
  readonly headers: MsgHdrs;
  /** Approximate bytes they take on the wire (what `max_payload` counts too). */
  readonly size: number;
}

export function encodeHeaders(input: MessageHeaders): EncodedHeaders | undefined {
  const keys = Object.keys(input);
  if (keys.length === 0) return undefined;
  const h = natsHeaders();
  let types: Record<string, 'n' | 'b' | 'j'> | undefined;
  let size = 12;
  for (const key of keys) {
    if (!HEADER_NAME.test(key) || key === TYPES_HEADER || /^nats-/i.test(key)) {
      throw new NatsTransportError('INVALID_ARGUMENT', `raybus nats: '${key}' cannot be a header name (printable ASCII without ':', not '${TYPES_HEADER}' or 'Nats-*')`);
    }
    const value = input[key];
    let text: string;
    if (typeof value === 'string') {
      if (isPlainValue(value)) text = value;
      else {
        text = JSON.stringify(value).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
        (types ??= {})[key] = 'j';
      }
    } else if (typeof value === 'number') {
      text = String(value);
      (types ??= {})[key] = 'n';
    } else if (typeof value === 'boolean') {
      text = value ? 'true' : 'false';
      (types ??= {})[key] = 'b';
    } else {
      throw new NatsTransportError('INVALID_ARGUMENT', `raybus nats: header '${key}' must be a string, number or boolean`);
    }
    h.set(key, text);
    size += key.length + Buffer.byteLength(text) + 4;
  }
  if (types) {
    const json = JSON.stringify(types);
    h.set(TYPES_HEADER, json);
    size += TYPES_HEADER.length + Buffer.byteLength(json) + 4;
  }
  return { headers: h, size };
}

/** The raybus headers of a received message (server headers such as `Nats-*` are left out). */
export function decodeHeaders(h: MsgHdrs | undefined): MessageHeaders {
  const out: MessageHeaders = {};
  if (!h) return out;
  let types: Record<string, string> = {};
  const typed = h.get(TYPES_HEADER);
  if (typed) {
    try {
      types = JSON.parse(typed) as Record<string, string>;
    } catch {
      types = {};
    }
  }
  for (const key of h.keys()) {
    if (key === TYPES_HEADER || /^nats-/i.test(key)) continue;
    const text = h.get(key);
    const type = types[key];
    if (type === 'n') out[key] = Number(text);
    else if (type === 'b') out[key] = text === 'true';
    else if (type === 'j') {
      try {
        out[key] = JSON.parse(text) as string;
      } catch {
        out[key] = text;
      }
    } else out[key] = text;
  }
  return out;
}

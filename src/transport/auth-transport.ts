/**
 * Every message on a cluster's bus, authenticated with the cluster key: a transport wrapper
 * that seals what it publishes and opens what it receives. A sealed message carries who sent
 * it (a random id per connection), a sequence number and a timestamp, and a MAC under a key
 * derived from the cluster key over all of that, the destination's name and the payload: an
 * HMAC-SHA256 for a small payload, and from POLY1305_FROM bytes a Poly1305 tag under a key of
 * the sender's own (ChaCha20-Poly1305 with the whole message as associated data and the
 * sequence number as nonce), which costs several times less per byte — or, with `encrypt`, the
 * payload in AES-256-GCM under another derived key, the header and destination as associated
 * data.
 *
 * What it refuses, never handing it on: a message without a valid seal (no key, another key,
 * altered, sent to another queue than it was sealed for), one seen before from the same sender
 * on the same queue (a replay), and one older than `maxAgeMs` (a replay from long ago) — unless
 * the bus says it is a redelivery, which raybus's handlers tolerate as at-least-once delivery.
 * A refused queue message is dead-lettered with the reason; refusals are counted and reported
 * once per sender.
 */
import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Observable } from 'rxjs';
import { systemClock, type Clock } from '../util/clock';
import { AUTHENTICATED_HEADER, type ConsumeOptions, type Delivery, type PublishOptions, type QueueInspection, type QueueOptions, type Subscription, type Transport, type TransportCapabilities, type TransportLease, type TransportStatus } from './transport';
import { logger } from '../util/logger';
import { GatheredBytes, joined } from '../serialization/gathered-bytes';

/** Options of {@link createAuthTransport}. */
export interface AuthOptions {
  /** The cluster key (any string; `raybus keygen` makes 64 hex characters). */
  readonly key: string;
  /** Encrypt payloads too (AES-256-GCM). */
  readonly encrypt?: boolean;
  /** Oldest first delivery accepted, in ms (clock skew and queueing included). Default 15 minutes. */
  readonly maxAgeMs?: number;
  readonly clock?: Clock;
  /**
   * Largest message accepted, in bytes: anything bigger is refused before its seal is even
   * checked. Default: the inner transport's `capabilities.maxMessageBytes` (no limit without).
   */
  readonly maxMessageBytes?: number;
  /**
   * Told about each refusal: `reason` names the sender, `kind` is the reason alone (for
   * counting), `first` is true for the first refusal from that sender.
   */
  readonly onReject?: (reason: string, where: string, first: boolean, kind: string) => void;
}

/** Refusals so far, by reason (for `raybus status` and metrics). */
export interface AuthStats {
  readonly accepted: number;
  readonly rejected: Readonly<Record<string, number>>;
}

const MAGIC0 = 0x52; // 'R'
const MAGIC1 = 0x42; // 'B'
const VERSION = 1;
/**
 * The seal's version when its MAC is a Poly1305 tag under the sender's key (`SenderKeys`)
 * instead of an HMAC: a receiver older than these tags refuses it as an unknown version.
 */
const VERSION_POLY1305 = 2;
const FLAG_ENCRYPTED = 1;
/**
 * From this payload size a message's MAC is a Poly1305 tag: about 10 µs for 64 KiB where an
 * HMAC-SHA256 costs 40, and 8 ms for 100 MB where it costs 60 (this machine's OpenSSL, with
 * SHA instructions); below it, the one-shot HMAC is as cheap and needs no cipher object.
 */
export const POLY1305_FROM = 8 * 1024;
const SENDER_BYTES = 8;
/** magic(2) version(1) flags(1) sender(8) seq(8) time(8) */
const HEADER_BYTES = 28;
const MAC_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DEFAULT_MAX_AGE_MS = 15 * 60_000;
/** How far in the future a timestamp may be (clock skew between machines). */
const MAX_FUTURE_MS = 5 * 60_000;
/** Sequence numbers remembered per sender and queue, to spot replays. */
const SEEN_WINDOW = 4096;
/** Senders remembered (oldest forgotten first). */
const MAX_SENDERS = 20_000;

/** The keys derived from a cluster key (MACs, senders' Poly1305 keys, encryption). */
interface Keys {
  readonly mac: MacKey;
  readonly senders: SenderKeys;
  readonly enc: Buffer;
}

function deriveKeys(key: string): Keys {
  const ikm = Buffer.from(key, 'utf8');
  const salt = Buffer.from('raybus cluster key v1');
  return {
    mac: new MacKey(Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('message authentication'), 32))),
    senders: new SenderKeys(Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('message authentication, per sender'), 32))),
    enc: Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('message encryption'), 32)),
  };
}

/** One-shot SHA-256 (Node ≥ 20.12); without it, MACs are made with an Hmac object. */
const oneShotHash: typeof nodeCrypto.hash | undefined = typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;
/** Largest payload MACed by one-shot hashes (larger ones stream through an Hmac, uncopied). */
const ONE_SHOT_MAX = 64 * 1024;
const SHA256_BLOCK = 64;

/**
 * HMAC-SHA256 under one key (RFC 2104: H(K ^ opad, H(K ^ ipad, message))), with the padded
 * keys made once and each message hashed by two one-shot hashes over buffers laid out for
 * them: the same MAC as `createHmac`, without an Hmac object and four native calls per
 * message. A sealed message is written in the buffer its MAC is computed over.
 */
class MacKey {
  private readonly ipad = Buffer.alloc(SHA256_BLOCK, 0x36);
  /** K ^ opad, then the inner hash. */
  private readonly outer = Buffer.alloc(SHA256_BLOCK + MAC_BYTES, 0x5c);
  /** The MAC `of` returns, written anew for each message opened. */
  private readonly mac = Buffer.allocUnsafe(MAC_BYTES);
  /** ipad, destination, NUL, header and payload of a message being opened. */
  private scratch = Buffer.allocUnsafe(4096);
  /** The destination whose ipad and name `scratch` starts with, and where its header goes. */
  private scratchFor: string | undefined;
  private scratchAt = 0;

  constructor(private readonly key: Buffer) {
    for (let i = 0; i < key.length; i++) {
      this.ipad[i]! ^= key[i]!;
      this.outer[i]! ^= key[i]!;
    }
  }

  /** `header`, `payload` and their MAC for `destination`, as one buffer. */
  seal(destination: string, header: Buffer, payload: Uint8Array): Buffer {
    if (!oneShotHash || payload.byteLength > ONE_SHOT_MAX) return Buffer.concat([header, payload, this.streamed(destination, header, payload)]);
    const at = SHA256_BLOCK + Buffer.byteLength(destination) + 1;
    const macAt = at + HEADER_BYTES + payload.byteLength;
    const out = Buffer.allocUnsafe(macAt + MAC_BYTES);
    this.ipad.copy(out, 0);
    out.write(destination, SHA256_BLOCK, 'utf8');
    out[at - 1] = 0;
    header.copy(out, at);
    out.set(payload, at + HEADER_BYTES);
    out.write(this.finish(out.subarray(0, macAt)), macAt, 'latin1');
    return out.subarray(at);
  }

  /**
   * The MAC of `header` + `payload` (contiguous in `sealed`, before its MAC) for `destination`,
   * valid until the next call.
   */
  of(destination: string, sealed: Buffer, header: Buffer, payload: Buffer): Buffer {
    const n = HEADER_BYTES + payload.length;
    if (!oneShotHash || payload.length > ONE_SHOT_MAX) return this.streamed(destination, header, payload);
    // The scratch buffer keeps ipad and the destination of the last message opened: a queue's
    // messages come one after another.
    let at = this.scratchAt;
    if (destination !== this.scratchFor) {
      at = SHA256_BLOCK + Buffer.byteLength(destination) + 1;
      this.scratchFor = undefined;
    }
    if (this.scratch.length < at + n) {
      this.scratch = Buffer.allocUnsafe(Math.max(at + n, this.scratch.length * 2));
      this.scratchFor = undefined;
    }
    const buf = this.scratch;
    if (this.scratchFor === undefined) {
      this.ipad.copy(buf, 0);
      buf.write(destination, SHA256_BLOCK, 'utf8');
      buf[at - 1] = 0;
      this.scratchFor = destination;
      this.scratchAt = at;
    }
    sealed.copy(buf, at, 0, n);
    this.mac.write(this.finish(buf.subarray(0, at + n)), 0, 'latin1');
    return this.mac;
  }

  /**
   * The MAC of `inner` (ipad, destination, NUL, header, payload) as a latin1 string of its 32
   * bytes: a digest returned as a Buffer costs a new ArrayBuffer (about 0.7 µs here, more than
   * the hash of a small message), a string only a V8 heap object.
   */
  private finish(inner: Buffer): string {
    this.outer.write(oneShotHash!('sha256', inner, 'binary'), SHA256_BLOCK, 'latin1');
    return oneShotHash!('sha256', this.outer, 'binary');
  }

  private streamed(destination: string, header: Uint8Array, payload: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(destination).update('\0').update(header).update(payload).digest();
  }
}

/**
 * The Poly1305 keys of senders: each sender's own, derived from the cluster's and the sender's
 * random id, so that its sequence number is a nonce used once under its key (a nonce used
 * twice under one key would give the tag's one-time key away). Receivers remember the keys of
 * senders whose messages opened (at most MAX_SENDERS); a message from an unknown sender costs
 * one derivation.
 */
class SenderKeys {
  private readonly known = new Map<string, Buffer>();

  constructor(private readonly root: Buffer) {}

  /** The key of `sender` (its 8-byte id; `id`, the same as hex, names it in the cache). */
  of(sender: Uint8Array, id: string): Buffer {
    return this.known.get(id) ?? Buffer.from(hkdfSync('sha256', this.root, sender, Buffer.from('raybus sender mac key'), 32));
  }

  /** `key` opened a message of `id`: keep it for the next ones. */
  remember(id: string, key: Buffer): void {
    if (this.known.has(id)) return;
    if (this.known.size >= MAX_SENDERS) this.known.delete(this.known.keys().next().value!);
    this.known.set(id, key);
  }
}

/** What `setAAD` is told of a ChaCha20-Poly1305 MAC's plaintext: there is none. */
const NO_PLAINTEXT = { plaintextLength: 0 };

/**
 * The Poly1305 tag of a message (ChaCha20-Poly1305 over no plaintext, with the destination, a
 * NUL, the header and the payload as associated data) under its sender's `key`, with the
 * header's sequence number as nonce. The payload is read where it is, never copied.
 */
function poly1305Tag(key: Buffer, destination: string, header: Uint8Array, payload: readonly Uint8Array[]): Buffer {
  const nonce = Buffer.alloc(IV_BYTES);
  nonce.set(header.subarray(12, 20), IV_BYTES - 8);
  const mac = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  mac.setAAD(Buffer.from(`${destination}\0`), NO_PLAINTEXT);
  mac.setAAD(header, NO_PLAINTEXT);
  for (const p of payload) mac.setAAD(p, NO_PLAINTEXT);
  mac.final();
  return mac.getAuthTag();
}

/** The parts of a gathered message, in order (what was written, and the arrays beside it). */
function partsOf(message: GatheredBytes): Uint8Array[] {
  const parts: Uint8Array[] = [];
  message.partsInto(parts);
  return parts;
}

/**
 * Replay state of one sender on one queue or topic: the highest sequence number opened, and
 * one bit for each of the SEEN_WINDOW numbers up to it (number n at bit n % SEEN_WINDOW),
 * set once that number opened. A fixed 512 bytes per sender and queue, and no allocation or
 * sweep per message.
 */
class SeenWindow {
  private max = 0;
  private readonly bits = new Uint32Array(SEEN_WINDOW / 32);

  /** Record `seq`; false when it was seen, or is SEEN_WINDOW or more behind the highest. */
  firstTime(seq: number): boolean {
    const max = this.max;
    if (seq > max) {
      // The numbers between the highest and this one were not seen: their bits, set for
      // numbers a window older, are cleared (all of them after a jump of a window or more).
      const gap = seq - max;
      if (gap >= SEEN_WINDOW) this.bits.fill(0);
      else if (gap > 1) this.clear(max + 1, gap - 1);
      this.max = seq;
    } else if (seq <= max - SEEN_WINDOW || this.has(seq)) {
      return false;
    }
    this.set(seq);
    return true;
  }

  private has(n: number): boolean {
    const at = n % SEEN_WINDOW;
    return (this.bits[at >>> 5]! & (1 << (at & 31))) !== 0;
  }

  private set(n: number): void {
    const at = n % SEEN_WINDOW;
    this.bits[at >>> 5]! |= 1 << (at & 31);
  }

  /**
   * Clear the bits of `count` numbers from `from` on (fewer than SEEN_WINDOW), a word at a
   * time: a sender's numbers on one queue may skip thousands (its messages to other queues).
   */
  private clear(from: number, count: number): void {
    let at = from % SEEN_WINDOW;
    while (count > 0) {
      const bit = at & 31;
      const n = Math.min(count, 32 - bit);
      this.bits[at >>> 5]! &= ~((0xffff_ffff >>> (32 - n)) << bit);
      count -= n;
      at = (at + n) % SEEN_WINDOW;
    }
  }
}

/**
 * Wrap `inner` so that everything it publishes is sealed and everything it delivers was
 * opened. Both ends of a conversation must be wrapped with the same key.
 */
export function createAuthTransport(inner: Transport, options: AuthOptions): AuthTransport {
  return new AuthTransport(inner, options);
}

export class AuthTransport implements Transport {
  readonly kind: string;
  readonly authenticated = true;
  /** A gathered message's parts are written straight into the sealed message (`seal`). */
  readonly takesGathered = true;
  readonly status$: Observable<TransportStatus>;
  private readonly keys: Keys;
  private readonly sender = randomBytes(SENDER_BYTES);
  /** The header of the message being sealed (copied into the sealed message). */
  private readonly header = Buffer.allocUnsafe(HEADER_BYTES);
  /** This sender's Poly1305 key (`SenderKeys`), made with its first large message. */
  private senderKey: Buffer | undefined;
  private seq = 0;
  private readonly clock: Clock;
  private readonly maxAgeMs: number;
  private readonly maxInboundBytes: number;
  private readonly windows = new Map<string, SeenWindow>();
  /** The window of the last message opened, with its sender and destination (`firstTime`). */
  private lastSender: string | undefined;
  private lastDestination: string | undefined;
  private lastWindow: SeenWindow | undefined;
  private readonly warned = new Set<string>();
  private accepted = 0;
  private readonly rejected: Record<string, number> = {};

  constructor(
    private readonly inner: Transport,
    private readonly options: AuthOptions,
  ) {
    if (typeof options.key !== 'string' || options.key.length === 0) throw new TypeError('raybus: the cluster key must be a non-empty string');
    this.kind = inner.kind;
    this.status$ = inner.status$;
    if (inner.acquireLease) this.acquireLease = (name, ttl) => inner.acquireLease!(name, ttl);
    if (inner.inspectQueue) this.inspectQueue = (queue) => inner.inspectQueue!(queue);
    this.keys = deriveKeys(options.key);
    this.clock = options.clock ?? systemClock;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.maxInboundBytes = options.maxMessageBytes ?? inner.capabilities?.maxMessageBytes ?? Infinity;
  }

  acquireLease?: (name: string, ttlMs: number) => Promise<TransportLease | null>;
  inspectQueue?: (queue: string) => Promise<QueueInspection | undefined>;

  /** The inner transport's, read when asked (some learn their limit on connect), less the seal's room. */
  get capabilities(): TransportCapabilities | undefined {
    const inner = this.inner.capabilities;
    if (!inner) return undefined;
    const overhead = HEADER_BYTES + Math.max(MAC_BYTES, IV_BYTES + TAG_BYTES);
    return { ...inner, maxMessageBytes: inner.maxMessageBytes - overhead };
  }

  /** Messages opened and refused so far. */
  stats(): AuthStats {
    return { accepted: this.accepted, rejected: { ...this.rejected } };
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  assertQueue(queue: string, options?: QueueOptions): Promise<void> {
    return this.inner.assertQueue(queue, options);
  }

  deleteQueue(queue: string): Promise<void> {
    return this.inner.deleteQueue(queue);
  }

  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    return this.inner.publish(queue, this.seal(queue, body), options);
  }

  /** The inner transport's synchronous publish, sealed (in-process buses have one). */
  get publishSync(): ((queue: string, body: Uint8Array, options?: PublishOptions) => void) | undefined {
    const sync = (this.inner as Partial<{ publishSync(q: string, b: Uint8Array, o?: PublishOptions): void }>).publishSync;
    return typeof sync === 'function' ? (q, b, o) => sync.call(this.inner, q, this.seal(q, b), o) : undefined;
  }

  /** Write out what the inner transport batches now. */
  flush(): void {
    (this.inner as Partial<{ flush(): void }>).flush?.();
  }

  consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    return this.inner.consume(
      queue,
      (d) => {
        const opened = this.open(queue, d.body, d.redelivered);
        if (typeof opened === 'string') {
          d.nack(false, `unauthenticated: ${opened}`);
          return;
        }
        handler({
          queue: d.queue,
          body: opened.payload,
          headers: { ...d.headers, [AUTHENTICATED_HEADER]: opened.sender },
          redelivered: d.redelivered,
          ack: d.ack,
          nack: d.nack,
        });
      },
      options,
    );
  }

  broadcast(topic: string, body: Uint8Array): Promise<void> {
    return this.inner.broadcast(topic, this.seal(topic, body));
  }

  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    return this.inner.subscribe(topic, (body) => {
      const opened = this.open(topic, body, false);
      if (typeof opened !== 'string') handler(opened.payload);
    });
  }

  // ---------------------------------------------------------------- sealing

  private seal(destination: string, whole: Uint8Array): Uint8Array {
    const encrypt = this.options.encrypt === true;
    // A gathered message (its large arrays beside it) is sealed from its parts, each copied
    // once, into the sealed message; one to encrypt has its arrays copied in first.
    const parts = !encrypt && whole instanceof GatheredBytes && whole.gathered ? partsOf(whole) : undefined;
    const payload = parts ? whole : joined(whole);
    this.seq += 1;
    // Written anew for each message, and copied into what `seal` returns on every path.
    const header = this.header;
    header[0] = MAGIC0;
    header[1] = MAGIC1;
    header[2] = VERSION;
    header[3] = encrypt ? FLAG_ENCRYPTED : 0;
    this.sender.copy(header, 4);
    // Two 32-bit halves: no BigInt per message (a sequence number stays below 2^53).
    header.writeUInt32BE(Math.floor(this.seq / 0x1_0000_0000), 12);
    header.writeUInt32BE(this.seq >>> 0, 16);
    header.writeDoubleBE(this.clock.now(), 20);
    if (encrypt) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.keys.enc, iv);
      cipher.setAAD(this.associated(destination, header));
      const sealed = Buffer.concat([cipher.update(payload), cipher.final()]);
      return Buffer.concat([header, iv, sealed, cipher.getAuthTag()]);
    }
    if (payload.byteLength >= POLY1305_FROM) {
      header[2] = VERSION_POLY1305;
      this.senderKey ??= this.keys.senders.of(this.sender, this.sender.toString('hex'));
      const pieces = parts ?? [payload];
      const tag = poly1305Tag(this.senderKey, destination, header, pieces);
      const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength + TAG_BYTES);
      header.copy(out, 0);
      let at = HEADER_BYTES;
      for (const p of pieces) {
        out.set(p, at);
        at += p.byteLength;
      }
      tag.copy(out, at);
      return out;
    }
    return this.keys.mac.seal(destination, header, joined(payload));
  }

  private associated(destination: string, header: Uint8Array): Buffer {
    return Buffer.concat([Buffer.from(`${destination}\0`), header]);
  }

  /** The payload and sender of a sealed message, or why it is refused. */
  private open(destination: string, body: Uint8Array, redelivered: boolean): { payload: Uint8Array; sender: string } | string {
    const reason = (why: string, sender?: string): string => this.refuse(why, destination, sender);
    if (body.byteLength > this.maxInboundBytes) return reason(`larger than ${this.maxInboundBytes} bytes`);
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (buf.length < HEADER_BYTES + TAG_BYTES || buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return reason('not sealed with a cluster key');
    if (buf[2] !== VERSION && buf[2] !== VERSION_POLY1305) return reason(`unknown seal version ${buf[2]}`);
    const header = buf.subarray(0, HEADER_BYTES);
    const sender = buf.toString('hex', 4, 12);
    let payload: Uint8Array;
    // A Poly1305 seal is never an encrypted message's: its flag was altered.
    if (buf[2] === VERSION_POLY1305 && (buf[3]! & FLAG_ENCRYPTED) !== 0) return reason('bad seal (another cluster key, or altered)', sender);
    if ((buf[3]! & FLAG_ENCRYPTED) !== 0) {
      if (buf.length < HEADER_BYTES + IV_BYTES + TAG_BYTES) return reason('truncated', sender);
      const iv = buf.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
      const tag = buf.subarray(buf.length - TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.keys.enc, iv);
        decipher.setAAD(this.associated(destination, header));
        decipher.setAuthTag(tag);
        payload = Buffer.concat([decipher.update(buf.subarray(HEADER_BYTES + IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
      } catch {
        return reason('bad seal (another cluster key, or altered)', sender);
      }
    } else if (this.options.encrypt) {
      return reason('not encrypted, but this cluster encrypts', sender);
    } else if (buf[2] === VERSION_POLY1305) {
      payload = buf.subarray(HEADER_BYTES, buf.length - TAG_BYTES);
      const key = this.keys.senders.of(buf.subarray(4, 12), sender);
      if (!timingSafeEqual(buf.subarray(buf.length - TAG_BYTES), poly1305Tag(key, destination, header, [payload]))) return reason('bad seal (another cluster key, or altered)', sender);
      this.keys.senders.remember(sender, key);
    } else {
      if (buf.length < HEADER_BYTES + MAC_BYTES) return reason('truncated', sender);
      const body = buf.subarray(HEADER_BYTES, buf.length - MAC_BYTES);
      payload = body;
      const given = buf.subarray(buf.length - MAC_BYTES);
      if (!timingSafeEqual(given, this.keys.mac.of(destination, buf, header, body))) return reason('bad seal (another cluster key, or altered)', sender);
    }
    if (!redelivered) {
      const sentAt = header.readDoubleBE(20);
      const now = this.clock.now();
      if (!(sentAt >= now - this.maxAgeMs)) return reason('too old (a replay?)', sender);
      if (sentAt > now + MAX_FUTURE_MS) return reason('timestamp in the future', sender);
      const seq = header.readUInt32BE(12) * 0x1_0000_0000 + header.readUInt32BE(16);
      if (!this.firstTime(sender, destination, seq)) return reason('seen before (a replay)', sender);
    }
    this.accepted += 1;
    return { payload, sender };
  }

  /** Record `seq` from a sender on a destination; false when it was seen (or is too far behind). */
  private firstTime(sender: string, destination: string, seq: number): boolean {
    // A queue's messages mostly come from one sender after another: its window is kept at hand.
    if (sender === this.lastSender && destination === this.lastDestination) return this.lastWindow!.firstTime(seq);
    const key = `${sender}\0${destination}`;
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= MAX_SENDERS) this.windows.delete(this.windows.keys().next().value!);
      w = new SeenWindow();
      this.windows.set(key, w);
    }
    this.lastSender = sender;
    this.lastDestination = destination;
    this.lastWindow = w;
    return w.firstTime(seq);
  }

  private refuse(why: string, where: string, sender = 'unknown'): string {
    this.rejected[why] = (this.rejected[why] ?? 0) + 1;
    const first = !this.warned.has(sender);
    if (first) {
      if (this.warned.size >= MAX_SENDERS) this.warned.clear();
      this.warned.add(sender);
    }
    (this.options.onReject ?? defaultReject)(`${why} (sender ${sender})`, where, first, why);
    return why;
  }
}

function defaultReject(reason: string, where: string, first: boolean): void {
  if (first) logger.warn(`raybus: refused a message on ${where}: ${reason}; further refusals from this sender are counted, not logged`);
}

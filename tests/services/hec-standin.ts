/**
 * HEC STAND-IN: a local stand-in for Splunk's HTTP Event Collector, NOT Splunk. Splunk cannot run
 * here, so this server speaks HEC as Splunk documents it (help.splunk.com "HTTP Event Collector REST
 * API endpoints", "Format events for HTTP Event Collector", "About HTTP Event Collector indexer
 * acknowledgment", "Troubleshoot HTTP Event Collector: possible error codes"):
 *  - POST /services/collector/event (also /services/collector, /services/collector/event/1.0):
 *    `Authorization: Splunk <token>`, concatenated JSON envelopes, gzip only, per-token allowed
 *    indexes, flat `fields`, `event` required and non-blank, max_content_length (413);
 *  - channels from X-Splunk-Request-Channel or ?channel= (a GUID; required for useACK tokens);
 *  - per-channel ackIds from 0 and POST /services/collector/ack, where `true` is answered once and
 *    then forgotten, unknown ids are false;
 *  - GET /services/collector/health (17 healthy, 18/19/20 unhealthy);
 *  - error bodies {"text","code"} with "invalid-event-number" for code 6.
 * A request with a bad event is refused as a whole (nothing of it is indexed). Fault scripts make
 * the protocol's bad days happen on purpose: delayed, lost, out-of-order and forgotten acks, 503
 * busy, 429 with Retry-After, 413, 400 at a chosen event, 403, and a connection reset after the body
 * was read (the events are indexed, the client never hears so).
 *
 * Use it in-process (`HecStandIn.start`) or run it: `node --import tsx tests/services/hec-standin.ts`
 * prints TG_HEC_URL and TG_HEC_TOKEN lines and serves until killed.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { generate } from 'selfsigned';

export interface StandInToken {
  enabled: boolean;
  /** useACK in inputs.conf: requests need a channel and get ackIds. */
  useAck: boolean;
  /** Allowed indexes; an event naming another one is refused with code 7. Empty: any. */
  indexes?: string[];
}

/** What the stand-in does with the ack of one accepted request. */
export type AckPlan =
  /** true on the first query (after the event is indexed). */
  | { kind: 'immediate' }
  /** false for this many queries, then true: a slow indexer. */
  | { kind: 'delayed'; polls: number }
  /** never true: the ack was lost (the events are indexed all the same). */
  | { kind: 'lost' }
  /** true only after the given later request of the channel was acked: out of order. */
  | { kind: 'after'; request: number }
  /** at its first query the channel's pending acks are dropped (ackIdleCleanup): every later query answers false. */
  | { kind: 'forget-channel' };

/** One fault for the next event request(s) that reach the stand-in. */
export type Fault =
  | { kind: 'busy'; times: number }
  | { kind: 'throttle'; times: number; retryAfterSeconds: number }
  | { kind: 'internal-error'; times: number }
  | { kind: 'reset-after-body'; times: number };

export interface Received {
  channel: string | null;
  /** Request number on the stand-in (0, 1, ...), over all channels. */
  request: number;
  envelope: { time: number; host?: string; source?: string; sourcetype?: string; index?: string; event: unknown; fields?: Record<string, unknown> };
}

export interface StandInStats {
  eventRequests: number;
  ackQueries: number;
  healthChecks: number;
  /** Status codes answered to event requests, in order. */
  statuses: number[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Channel {
  next: number;
  /** ackId -> state */
  acks: Map<number, { plan: AckPlan; polls: number; request: number; acked: boolean }>;
}

export class HecStandIn {
  readonly tokens = new Map<string, StandInToken>();
  /** Every event the stand-in indexed, in arrival order (duplicates included). */
  readonly received: Received[] = [];
  readonly stats: StandInStats = { eventRequests: 0, ackQueries: 0, healthChecks: 0, statuses: [] };
  /** limits.conf max_content_length, in bytes of the request body as sent. */
  maxContentLength = 800 * 1024 * 1024;
  /** Health endpoint answer: 17 healthy, 18 queues full, 19 ack unavailable, 20 both. */
  healthCode: 17 | 18 | 19 | 20 = 17;
  /** Events the stand-in refuses as invalid (400 code 6 at their position): poison. */
  refuse: (event: unknown) => boolean = () => false;
  /** The ack plan of each accepted request, by request number; default immediate. */
  ackPlan: (request: number) => AckPlan = () => ({ kind: 'immediate' });
  /** Request numbers in the order their acks were answered true. */
  readonly ackOrder: number[] = [];
  /** Requests whose events were indexed but whose success the client can never learn (ack lost or forgotten, reply cut off). */
  readonly unconfirmable = new Set<number>();
  private readonly faults: Fault[] = [];
  private readonly channels = new Map<string, Channel>();
  /** Request number -> whether its ack was answered true, for `after` plans. */
  private readonly ackedRequests = new Set<number>();
  private requestNo = 0;
  private port = 0;

  private constructor(
    private readonly server: http.Server | https.Server,
    readonly scheme: 'http' | 'https',
    /** The PEM certificate that signs itself, for https: the CA file a client trusts. */
    readonly certificate: string | null,
  ) {}

  static async start(o: { tls?: boolean } = {}): Promise<HecStandIn> {
    const ref: { standIn?: HecStandIn } = {};
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => ref.standIn!.handle(req, res);
    let server: http.Server | https.Server;
    let certificate: string | null = null;
    if (o.tls) {
      const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
        keyType: 'ec',
        curve: 'P-256',
        extensions: [{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
      } as Parameters<typeof generate>[1]);
      certificate = pems.cert;
      server = https.createServer({ key: pems.private, cert: pems.cert }, handler);
    } else server = http.createServer(handler);
    const standIn = (ref.standIn = new HecStandIn(server, o.tls ? 'https' : 'http', certificate));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  get url(): string {
    // Kept across stop() and listenAgain(): the sink's configured URL outlives an outage.
    this.port ||= (this.server.address() as AddressInfo).port;
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  /** Adds a token and returns it. */
  addToken(t: Partial<StandInToken> = {}, value = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-4${randomBytes(2).toString('hex').slice(1)}-a${randomBytes(2).toString('hex').slice(1)}-${randomBytes(6).toString('hex')}`): string {
    this.tokens.set(value, { enabled: true, useAck: true, ...t });
    return value;
  }

  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Drops every pending ack of every channel, as Splunk's ackIdleCleanup does: later queries answer false. */
  forgetAcks(): void {
    for (const c of this.channels.values()) c.acks.clear();
  }

  /** Answers again on the same port after stop(): Splunk back from an outage. */
  async listenAgain(): Promise<void> {
    const port = this.port;
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    (this.server as http.Server).closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(res: http.ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= this.maxContentLength + 1) chunks.push(c);
    });
    req.on('end', () => {
      try {
        this.route(req, res, Buffer.concat(chunks), size);
      } catch (err) {
        this.answer(res, 500, { text: `Internal server error: ${(err as Error).message}`, code: 8 });
      }
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer, size: number): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.replace(/\/+$/, '');
    if (req.method === 'GET' && (path === '/services/collector/health' || path === '/services/collector/health/1.0')) {
      this.stats.healthChecks++;
      const texts = { 17: 'HEC is healthy', 18: 'HEC is unhealthy, queues are full', 19: 'HEC is unhealthy, ack service unavailable', 20: 'HEC is unhealthy, queues are full, ack service unavailable' };
      return this.answer(res, this.healthCode === 17 ? 200 : 503, { text: texts[this.healthCode], code: this.healthCode });
    }
    const isEvent = path === '/services/collector/event' || path === '/services/collector' || path === '/services/collector/event/1.0';
    const isAck = path === '/services/collector/ack';
    if (!isEvent && !isAck) return this.answer(res, 404, { text: 'The requested URL was not found on this server.', code: 404 });
    if (req.method !== 'POST') return this.answer(res, 405, { text: 'Method Not Allowed', code: 405 });
    if (isEvent) this.stats.eventRequests++;

    // Authentication: `Splunk <token>` (Basic with the token as password also works on Splunk).
    const auth = req.headers.authorization;
    if (!auth) return this.answer(res, 401, { text: 'Token is required', code: 2 });
    const m = /^Splunk\s+(\S+)$/.exec(auth);
    if (!m) return this.answer(res, 401, { text: 'Invalid authorization', code: 3 });
    const token = this.tokens.get(m[1]!);
    if (!token) return this.answer(res, 403, { text: 'Invalid token', code: 4 });
    if (!token.enabled) return this.answer(res, 403, { text: 'Token disabled', code: 1 });

    const channelId = (req.headers['x-splunk-request-channel'] as string | undefined) ?? url.searchParams.get('channel');
    if (channelId !== null && channelId !== undefined && !GUID.test(channelId)) return this.answer(res, 400, { text: 'Invalid data channel', code: 11 });
    if (token.useAck && !channelId) return this.answer(res, 400, { text: 'Data channel is missing', code: 10 });

    if (isAck) return this.acks(res, token, channelId ?? null, raw);

    const status = (s: number) => this.stats.statuses.push(s);
    const fault = this.faults[0];
    if (fault && fault.kind !== 'reset-after-body') {
      if (--fault.times <= 0) this.faults.shift();
      if (fault.kind === 'busy') return status(503), this.answer(res, 503, { text: 'Server is busy', code: 9 });
      if (fault.kind === 'internal-error') return status(500), this.answer(res, 500, { text: 'Internal server error', code: 8 });
      return status(429), this.answer(res, 429, { text: 'Too many requests', code: 9 }, { 'Retry-After': String(fault.retryAfterSeconds) });
    }
    if (size > this.maxContentLength) return status(413), this.answer(res, 413, { text: `Content-Length of ${size} too large (maximum is ${this.maxContentLength})`, code: 413 });
    const encoding = req.headers['content-encoding'];
    let body = raw;
    if (encoding === 'gzip') {
      try {
        body = gunzipSync(raw);
      } catch {
        return status(400), this.answer(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
      }
    } else if (encoding && encoding !== 'identity') return status(415), this.answer(res, 415, { text: `Unsupported content encoding ${String(encoding)}`, code: 415 });
    const text = body.toString('utf8');
    if (!text.trim()) return status(400), this.answer(res, 400, { text: 'No data', code: 5 });

    const parsed = splitConcatenatedJson(text);
    const envelopes: Received['envelope'][] = [];
    for (let i = 0; i < parsed.length; i++) {
      const p = parsed[i]!;
      if (p.error || !p.value || typeof p.value !== 'object' || Array.isArray(p.value)) return status(400), this.answer(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
      const e = p.value as Received['envelope'];
      if (!('event' in e)) return status(400), this.answer(res, 400, { text: 'Event field is required', code: 12, 'invalid-event-number': i });
      if (e.event === '' || e.event === null || (typeof e.event === 'string' && !e.event.trim())) return status(400), this.answer(res, 400, { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': i });
      if (e.fields !== undefined && !flatFields(e.fields)) return status(400), this.answer(res, 400, { text: 'Error in handling indexed fields', code: 15, 'invalid-event-number': i });
      if (e.index !== undefined && token.indexes?.length && !token.indexes.includes(e.index)) return status(400), this.answer(res, 400, { text: 'Incorrect index', code: 7, 'invalid-event-number': i });
      if (e.time !== undefined && typeof e.time !== 'number' && !(typeof e.time === 'string' && /^\d+(\.\d+)?$/.test(e.time))) return status(400), this.answer(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
      if (this.refuse(e.event)) return status(400), this.answer(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
      envelopes.push(e);
    }
    const request = this.requestNo++;
    for (const envelope of envelopes) this.received.push({ channel: channelId ?? null, request, envelope });
    const reply: Record<string, unknown> = { text: 'Success', code: 0 };
    if (token.useAck && channelId) {
      const ch = this.channel(channelId);
      const ackId = ch.next++;
      const plan = this.ackPlan(request);
      if (plan.kind === 'lost') this.unconfirmable.add(request);
      ch.acks.set(ackId, { plan, polls: 0, request, acked: false });
      reply.ackId = ackId;
    }
    if (fault?.kind === 'reset-after-body') {
      if (--fault.times <= 0) this.faults.shift();
      this.unconfirmable.add(request);
      status(0);
      req.socket.destroy();
      return;
    }
    status(200);
    this.answer(res, 200, reply);
  }

  private acks(res: http.ServerResponse, token: StandInToken, channelId: string | null, raw: Buffer): void {
    this.stats.ackQueries++;
    if (!token.useAck) return this.answer(res, 400, { text: 'ACK is disabled', code: 14 });
    let ids: unknown;
    try {
      ids = (JSON.parse(raw.toString('utf8')) as { acks?: unknown }).acks;
    } catch {
      return this.answer(res, 400, { text: 'Invalid data format', code: 6 });
    }
    if (!Array.isArray(ids)) return this.answer(res, 400, { text: 'Invalid data format', code: 6 });
    const ch = this.channel(channelId!);
    const out: Record<string, boolean> = {};
    for (const id of ids) {
      const a = typeof id === 'number' ? ch.acks.get(id) : undefined;
      let done = false;
      if (a?.plan.kind === 'forget-channel') {
        for (const pending of ch.acks.values()) this.unconfirmable.add(pending.request);
        ch.acks.clear();
        out[String(id)] = false;
        continue;
      }
      if (a) {
        a.polls++;
        done = a.plan.kind === 'immediate' || (a.plan.kind === 'delayed' && a.polls > a.plan.polls) || (a.plan.kind === 'after' && this.ackedRequests.has(a.plan.request));
        if (done) {
          // Answered true once, then forgotten, as Splunk does.
          ch.acks.delete(id as number);
          this.ackedRequests.add(a.request);
          this.ackOrder.push(a.request);
        }
      }
      out[String(id)] = done;
    }
    this.answer(res, 200, { acks: out });
  }

  private channel(id: string): Channel {
    let c = this.channels.get(id);
    if (!c) this.channels.set(id, (c = { next: 0, acks: new Map() }));
    return c;
  }
}

/** Index-time fields: string, number, or arrays of them; no objects. */
function flatFields(fields: unknown): boolean {
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) return false;
  const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number';
  return Object.values(fields).every((v) => scalar(v) || (Array.isArray(v) && v.every(scalar)));
}

/** Splits `{...}{...}` or newline-separated JSON objects, as HEC reads a batch; a broken one is an error at its position. */
export function splitConcatenatedJson(text: string): { value?: unknown; error?: string }[] {
  const out: { value?: unknown; error?: string }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    if (text[i] !== '{') {
      out.push({ error: `unexpected ${text[i]}` });
      return out;
    }
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < n; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (j >= n) {
      out.push({ error: 'unterminated object' });
      return out;
    }
    try {
      out.push({ value: JSON.parse(text.slice(i, j + 1)) });
    } catch (err) {
      out.push({ error: (err as Error).message });
      return out;
    }
    i = j + 1;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const standIn = await HecStandIn.start({ tls: process.argv.includes('--tls') });
  const token = standIn.addToken({ useAck: !process.argv.includes('--no-ack') });
  console.log(`TG_HEC_URL=${standIn.url}\nTG_HEC_TOKEN=${token}`);
  setInterval(() => console.error(`hec stand-in: ${standIn.received.length} events, ${standIn.stats.eventRequests} requests, ${standIn.stats.ackQueries} ack queries`), 10_000).unref();
  process.on('SIGTERM', () => void standIn.stop().then(() => process.exit(0)));
}

import http from 'node:http';
import https from 'node:https';

/** What HEC answered: the HTTP status and Splunk's JSON body ({text, code, ackId, invalid-event-number, acks}). */
export interface HecAnswer {
  status: number;
  code?: number;
  text?: string;
  ackId?: number;
  invalidEventNumber?: number;
  acks?: Record<string, boolean>;
  /** From Retry-After (seconds), when the answer had one. */
  retryAfterMs?: number;
}

/** The request did not get an answer (refused, reset, timed out): the data may or may not have arrived. */
export class HecTransportError extends Error {
  readonly code = 'TG_SPLUNK_UNREACHABLE';
}

export interface HecConnection {
  url: string;
  token: string;
  channel: string;
  ca?: string;
  timeoutMs: number;
}

/**
 * The three HEC endpoints the sink uses, over one keep-alive agent. Every request carries the
 * token in the Authorization header (never in the URL) and the sink's channel.
 */
export class HecService {
  private readonly base: URL;
  private readonly agent: http.Agent;

  constructor(private readonly c: HecConnection) {
    this.base = new URL(c.url);
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(c.ca ? { ca: c.ca } : {}) }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  get channel(): string {
    return this.c.channel;
  }

  sendEvents(body: Buffer, gzip: boolean): Promise<HecAnswer> {
    return this.request('POST', '/services/collector/event', body, { 'Content-Type': 'application/json', ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) });
  }

  queryAcks(ids: number[]): Promise<HecAnswer> {
    return this.request('POST', '/services/collector/ack', Buffer.from(JSON.stringify({ acks: ids })), { 'Content-Type': 'application/json' });
  }

  health(): Promise<HecAnswer> {
    return this.request('GET', '/services/collector/health', null, {});
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body: Buffer | null, headers: Record<string, string>): Promise<HecAnswer> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base.href : `${this.base.href}/`);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<HecAnswer>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.c.timeoutMs,
          headers: {
            Authorization: `Splunk ${this.c.token}`,
            'X-Splunk-Request-Channel': this.c.channel,
            ...(body ? { 'Content-Length': String(body.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new HecTransportError(`HEC ${path}: the answer broke off (${err.message})`)));
          res.on('end', () => resolve(parseAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers['retry-after'])));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.c.timeoutMs} ms`)));
      req.on('error', (err) => reject(new HecTransportError(`HEC ${url.host}${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
      req.end(body ?? undefined);
    });
  }
}

function parseAnswer(status: number, text: string, retryAfter: string | string[] | undefined): HecAnswer {
  const answer: HecAnswer = { status };
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    if (typeof j.code === 'number') answer.code = j.code;
    if (typeof j.text === 'string') answer.text = j.text;
    if (typeof j.ackId === 'number') answer.ackId = j.ackId;
    if (typeof j['invalid-event-number'] === 'number') answer.invalidEventNumber = j['invalid-event-number'];
    if (j.acks && typeof j.acks === 'object') answer.acks = j.acks as Record<string, boolean>;
  } catch {
    // A proxy or a load balancer answered with something else than HEC JSON: keep its first words.
    if (text) answer.text = text.slice(0, 200);
  }
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  if (retryAfter !== undefined && Number.isFinite(seconds) && seconds >= 0) answer.retryAfterMs = Math.min(seconds, 600) * 1000;
  return answer;
}

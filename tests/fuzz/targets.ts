/**
 * The parsers that read untrusted bytes, each as a fuzz target: a structure-aware generator, the
 * errors the module documents (anything else thrown is a crash), and invariants on what it returns.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../services/config/load.js';
import { DEV_AUDIENCE, DEV_ISSUER, DevIssuer } from '../../services/dev/dev-issuer.js';
import { IdentityError } from '../../services/gateway/identity/errors.js';
import { TokenVerifier } from '../../services/gateway/identity/token-verifier.js';
import { classifyStatement, loadClassifier } from '../../services/gateway/policy/statement-classifier.js';
import { parseScpCommand } from '../../services/gateway/policy/ssh-policy.js';
import { BackendFramer } from '../../services/gateway/postgres/backend-framer.js';
import { FrontendFramer } from '../../services/gateway/postgres/frontend-framer.js';
import * as fe from '../../services/gateway/postgres/frontend-messages.js';
import { CANCEL_REQUEST_CODE, Fe, GSSENC_REQUEST_CODE, PROTOCOL_3_0, ProtocolError, SSL_REQUEST_CODE } from '../../services/gateway/postgres/protocol.js';
import { MAX_SCRAM_ITERATIONS, ScramClient } from '../../services/gateway/postgres/scram-client.js';
import { ScpObserver } from '../../services/gateway/ssh/scp-observer.js';
import { decodeRequest, decodeResponse, Fxp } from '../../services/gateway/ssh/sftp/sftp-codec.js';
import { chunked } from './mutate.js';

/** An invariant the parser broke: always a finding, never an expected error. */
export class FuzzViolation extends Error {}

function check(ok: boolean, what: string): void {
  if (!ok) throw new FuzzViolation(what);
}

export interface FuzzTarget {
  name: string;
  /** Seed directory under tests/fuzz/corpus when it is not the target's name. */
  corpus?: string;
  /** `scratch` is a directory of this run, removed after it. */
  setup?(scratch: string): Promise<void>;
  /** Well-formed and nearly well-formed inputs built from the protocol's grammar. */
  structured: fc.Arbitrary<Buffer>;
  /** `cuts` says where the input is split into chunks, as a socket splits it. */
  run(input: Buffer, cuts: number[]): void | Promise<void>;
  /** The module's own documented refusals. */
  expected(err: unknown): boolean;
}

const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const int16 = (v: number) => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b; };
const int32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v | 0); return b; };
const uint32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
const shortText = fc.string({ maxLength: 24, unit: fc.oneof(fc.constantFrom('a', 'z', '_', '.', '=', ',', '\0', 'é'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });
/** A length field: usually right, sometimes off by a little or absurd. */
const lengthSkew = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -8, max: 8 }) }, { weight: 1, arbitrary: fc.integer() });

const isProtocolError = (err: unknown) => err instanceof ProtocolError;

/** Startup packets: SSL, GSSENC, cancel and startup requests with parameters, lengths sometimes wrong. */
const startupPacket = fc
  .tuple(
    fc.oneof(fc.constantFrom(SSL_REQUEST_CODE, GSSENC_REQUEST_CODE, CANCEL_REQUEST_CODE, PROTOCOL_3_0, PROTOCOL_3_0 + 2, 2 << 16), fc.integer()),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom('user', 'database', 'replication', '_pq_.x', 'options', 'application_name'), shortText), shortText), { maxLength: 6 }),
    fc.boolean(),
    lengthSkew,
  )
  .map(([code, params, terminated, skew]) => {
    const body = code === CANCEL_REQUEST_CODE ? Buffer.concat([int32(1234), int32(5678)]) : Buffer.concat([...params.flatMap(([k, v]) => [cstr(k), cstr(v)]), terminated ? Buffer.from([0]) : Buffer.alloc(0)]);
    return Buffer.concat([int32(8 + body.length + skew), int32(code), body]);
  });

const startup: FuzzTarget = {
  name: 'startup-packet',
  structured: fc.array(startupPacket, { minLength: 1, maxLength: 3 }).map((p) => Buffer.concat(p)),
  run(input, cuts) {
    const framer = new FrontendFramer(1 << 20);
    let taken = 0;
    for (const chunk of chunked(input, cuts)) {
      framer.push(chunk);
      // Each packet consumes at least 8 bytes, so more iterations than that means the framer stopped progressing.
      for (let i = 0; i <= input.length / 8 + 1; i++) {
        const packet = framer.nextStartupPacket();
        if (!packet) break;
        taken += 8 + packet.body.length;
        check(taken <= input.length, 'startup packets add up to more bytes than were sent');
        if (packet.code === CANCEL_REQUEST_CODE) fe.decodeCancelRequest(packet.body);
        else if (packet.code >> 16 === 3) {
          const params = fe.decodeStartupParameters(packet.body);
          check(Object.keys(params).length <= packet.body.length / 2, 'more startup parameters than the packet can hold');
        }
      }
    }
    check(taken + framer.pendingBytes === input.length, 'bytes lost or invented between packets and what stays buffered');
  },
  expected: isProtocolError,
};

const frontendMessage = fc
  .tuple(
    fc.oneof(fc.constantFrom(...Object.values(Fe)), fc.integer({ min: 0, max: 255 })),
    fc.oneof(
      shortText.map((sql) => cstr(sql)),
      fc.tuple(shortText, shortText, fc.array(fc.nat(), { maxLength: 4 }), lengthSkew).map(([n, q, types, skew]) => Buffer.concat([cstr(n), cstr(q), int16(types.length + (skew % 3)), ...types.map(uint32)])),
      fc
        .tuple(shortText, shortText, fc.array(fc.constantFrom(0, 1, 2, -1), { maxLength: 3 }), fc.array(fc.option(fc.uint8Array({ maxLength: 12 })), { maxLength: 4 }), lengthSkew)
        .map(([p, s, formats, values, skew]) =>
          Buffer.concat([cstr(p), cstr(s), int16(formats.length), ...formats.map(int16), int16(values.length), ...values.flatMap((v) => (v === null ? [int32(-1)] : [int32(v.length + skew), Buffer.from(v)])), int16(0)]),
        ),
      fc.tuple(fc.constantFrom('S', 'P', 'X'), shortText).map(([k, n]) => Buffer.concat([Buffer.from(k), cstr(n)])),
      fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
    ),
    lengthSkew,
  )
  .map(([type, body, skew]) => Buffer.concat([Buffer.from([type]), int32(4 + body.length + skew), body]));

function decodeFrontend(type: number, body: Buffer): void {
  switch (type) {
    case Fe.Query: fe.decodeQuery(body); break;
    case Fe.Parse: check(fe.decodeParse(body).parameterTypes.length * 4 <= body.length, 'Parse declares more parameter types than it carries'); break;
    case Fe.Bind: check(fe.decodeBind(body).parameters.length * 4 <= body.length, 'Bind declares more parameters than it carries'); break;
    case Fe.Execute: fe.decodeExecute(body); break;
    case Fe.Describe:
    case Fe.Close: fe.decodeDescribeOrClose(body); break;
    case Fe.FunctionCall: fe.decodeFunctionCall(body); break;
    case Fe.Password: fe.decodePassword(body); break;
  }
}

const MAX_MESSAGE = 64 * 1024;
const frontend: FuzzTarget = {
  name: 'frontend-messages',
  structured: fc.array(frontendMessage, { minLength: 1, maxLength: 6 }).map((m) => Buffer.concat(m)),
  run(input, cuts) {
    // Framing must not depend on how the bytes arrive: one chunk and many chunks give the same messages.
    const whole = frameAll([input]);
    const parts = frameAll(chunked(input, cuts));
    // Which refusal comes first may differ (a batch is framed before it is decoded); that one comes may not.
    check(!whole.error === !parts.error, `chunking changed the outcome: ${whole.error ?? 'ok'} vs ${parts.error ?? 'ok'}`);
    // On an error the messages framed in the same call are dropped with the connection, so compare clean streams only.
    if (!whole.error) check(Buffer.concat(whole.raw).equals(Buffer.concat(parts.raw)), 'chunking changed the framed messages');
    if (whole.error) throw whole.thrown;
  },
  expected: isProtocolError,
};

function frameAll(chunks: Buffer[]): { raw: Buffer[]; error?: string; thrown?: unknown } {
  const framer = new FrontendFramer(MAX_MESSAGE);
  const raw: Buffer[] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  try {
    for (const chunk of chunks) {
      framer.push(chunk);
      for (const m of framer.messages()) {
        raw.push(m.raw);
        check(m.raw.length >= 5 && m.raw.length <= MAX_MESSAGE, `framed a message of ${m.raw.length} bytes`);
        check(raw.length <= total / 5, 'more messages than the bytes can hold');
        decodeFrontend(m.type, m.body);
      }
    }
    check(raw.reduce((n, r) => n + r.length, 0) + framer.pendingBytes === total, 'bytes lost or invented by the framer');
    return { raw };
  } catch (err) {
    if (err instanceof FuzzViolation) throw err;
    return { raw, error: err instanceof ProtocolError ? err.code : String(err), thrown: err };
  }
}

const backendMessage = fc
  .tuple(fc.oneof(fc.constantFrom(0x52, 0x53, 0x5a, 0x44, 0x64, 0x43, 0x45, 0x4e, 0x54, 0x4b), fc.integer({ min: 0, max: 255 })), fc.uint8Array({ maxLength: 48 }), lengthSkew)
  .map(([type, body, skew]) => Buffer.concat([Buffer.from([type]), int32(4 + body.length + skew), Buffer.from(body)]));

const REPLACED = Buffer.from('S\0\0\0\x0bx\0y\0', 'latin1');
const backend: FuzzTarget = {
  name: 'backend-framer',
  structured: fc.array(backendMessage, { minLength: 1, maxLength: 8 }).map((m) => Buffer.concat(m)),
  run(input, cuts) {
    // The handler replaces every ParameterStatus; everything else must pass through byte for byte.
    const expected: Buffer[] = [];
    let streamedBytes = 0;
    const framer = new BackendFramer({
      message(type, body) {
        check(body.length <= input.length, 'a message body longer than the stream');
        return type === 0x53 ? REPLACED : undefined;
      },
      streamed(_type, bodyLength) {
        streamedBytes += bodyLength;
      },
    });
    const out: Buffer[] = [];
    for (const chunk of chunked(input, cuts)) out.push(...framer.push(chunk));
    const sent = Buffer.concat(out);
    // Rebuild what the client should get by framing the whole input at once, replacing the same way.
    let at = 0;
    while (at + 5 <= input.length) {
      const total = input.readInt32BE(at + 1) + 1;
      if (at + total > input.length) break;
      expected.push(input[at] === 0x53 ? REPLACED : input.subarray(at, at + total));
      at += total;
    }
    const framedWhole = Buffer.concat(expected);
    check(sent.subarray(0, framedWhole.length).equals(framedWhole), 'the client got bytes other than the target sent');
    check(sent.length <= framedWhole.length + (input.length - at), 'the client got more bytes than the target sent');
    check(streamedBytes <= input.length * 2 ** 31, 'streamed sizes out of bounds');
  },
  expected: (err) => err instanceof ProtocolError && err.code === 'TG_TARGET_PROTOCOL',
};

/** The server's SCRAM messages: server-first (nonce, salt, iterations), then server-final. */
const scramClient = new ScramClient('fuzz-password');
const CLIENT_NONCE = scramClient.initialResponse().slice('n,,n=,r='.length);
const scramFirst = fc
  .tuple(fc.oneof(fc.constant(CLIENT_NONCE), shortText.map((s) => CLIENT_NONCE + s), shortText), fc.oneof(fc.base64String({ maxLength: 24 }), shortText), fc.oneof(fc.integer({ min: -2, max: 64 }).map(String), fc.constantFrom('2147483647', '10000001', '1e9', '4096.0', '0x10'), shortText), fc.array(shortText, { maxLength: 3 }))
  .map(([r, s, i, extra]) => `r=${r},s=${s},i=${i}${extra.map((e) => `,${e}`).join('')}`);
const scramFinal = fc.oneof(fc.base64String({ maxLength: 64 }).map((v) => `v=${v}`), shortText.map((e) => `e=${e}`), shortText);
/** PBKDF2 time grows with the iterations: counts between this and the client's limit are valid but too slow to fuzz. */
const MAX_FUZZ_ITERATIONS = 4096;

const scram: FuzzTarget = {
  name: 'scram-server',
  structured: fc.tuple(scramFirst, scramFinal).map(([f, s]) => Buffer.from(`${f}\n${s}`, 'utf8')),
  async run(input) {
    const text = input.toString('utf8');
    const nl = text.indexOf('\n');
    const first = nl < 0 ? text : text.slice(0, nl);
    const final = nl < 0 ? '' : text.slice(nl + 1);
    const iterations = /(?:^|,)i=([^,]*)/.exec(first)?.[1];
    const n = Number(iterations);
    if (n > MAX_FUZZ_ITERATIONS && n <= MAX_SCRAM_ITERATIONS) return;
    const client = new ScramClient('fuzz-password');
    // Each client has its own nonce: put it where the input had the fixed one, so valid shapes stay valid.
    const own = client.initialResponse().slice('n,,n=,r='.length);
    const reply = await client.continue(first.split(CLIENT_NONCE).join(own).split('NONCE').join(own));
    check(reply.length < 200 + first.length * 2, 'client-final message grew beyond its inputs');
    client.finish(final);
    throw new FuzzViolation('a server that does not know the password was accepted');
  },
  expected: (err) => err instanceof Error && !(err instanceof FuzzViolation) && /SCRAM/.test(err.message),
};

const sftpRequestPacket = fc
  .tuple(fc.oneof(fc.constantFrom(...Object.values(Fxp)), fc.integer({ min: 0, max: 255 })), fc.nat(), fc.array(fc.oneof(shortText.map((s) => Buffer.concat([uint32(Buffer.byteLength(s)), Buffer.from(s)])), fc.nat().map(uint32), fc.constant(uint32(0xffffffff)), fc.constantFrom('posix-rename@openssh.com', 'statvfs@openssh.com', 'fsync@openssh.com').map((s) => Buffer.concat([uint32(s.length), Buffer.from(s)]))), { maxLength: 5 }))
  .map(([type, id, fields]) => {
    const body = Buffer.concat([Buffer.from([type]), uint32(id), ...fields]);
    return Buffer.concat([uint32(body.length), body]);
  });

function sftpStrings(values: object, packet: Buffer): void {
  for (const v of Object.values(values)) if (typeof v === 'string') check(v.length <= packet.length * 2, 'a decoded field is longer than its packet');
}

const sftp: FuzzTarget = {
  name: 'sftp-codec',
  structured: sftpRequestPacket,
  run(input) {
    // The same bytes read as a request (from the client) and as a response prefix (from the target).
    try {
      sftpStrings(decodeRequest(input), input);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
    }
    sftpStrings(decodeResponse(input), input);
  },
  expected: (err) => err instanceof RangeError,
};

const scpSource = fc.array(
  fc.oneof(
    fc.tuple(fc.stringMatching(/^[0-7]{4}$/), fc.integer({ min: 0, max: 40 }), shortText).map(([m, n, name]) => Buffer.concat([Buffer.from(`C${m} ${n} ${name}\n`), Buffer.alloc(n, 0x61), Buffer.from([0])])),
    shortText.map((d) => Buffer.from(`D0755 0 ${d}\n`)),
    fc.constantFrom(Buffer.from('E\n'), Buffer.from('T1 0 1 0\n'), Buffer.from('\x01scp: no such file\n')),
    fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  ),
  { maxLength: 6 },
);
const scpSink = fc.array(fc.oneof(fc.constant(Buffer.from([0])), shortText.map((m) => Buffer.from(`\x01${m}\n`)), fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b))), { maxLength: 8 });

const scp: FuzzTarget = {
  name: 'scp-observer',
  // Layout: 4-byte length of the source stream, the source stream, then the sink stream.
  structured: fc.tuple(fc.boolean(), scpSource, scpSink).map(([upload, src, sink]) => {
    const s = Buffer.concat([Buffer.from(upload ? 'U' : 'D'), ...src]);
    return Buffer.concat([uint32(s.length), s, ...sink]);
  }),
  run(input, cuts) {
    const split = input.length >= 4 ? Math.min(input.readUInt32BE(0), input.length - 4) : 0;
    const source = input.subarray(4, 4 + split);
    const sink = input.subarray(4 + split);
    const upload = source[0] !== 'D'.charCodeAt(0);
    const invocation = parseScpCommand(upload ? 'scp -r -t /srv/in' : 'scp -f /srv/out.bin');
    if (!invocation) throw new FuzzViolation('the scp command line did not parse');
    const ops: unknown[] = [];
    const observer = new ScpObserver(invocation, (op) => ops.push(op));
    const src = chunked(source, cuts);
    const snk = chunked(sink, [...cuts].reverse());
    for (let i = 0; i < Math.max(src.length, snk.length); i++) {
      if (snk[i]) observer.fromSink(snk[i]!);
      if (src[i]) observer.fromSource(src[i]!);
    }
    observer.end(input.length % 2 ? 0 : undefined);
    // One record per control line or acknowledgement at most: bytes cannot multiply records.
    const lines = [...source, ...sink].filter((b) => b === 0x0a || b === 0).length;
    check(ops.length <= lines + 2, `${ops.length} records from ${lines} lines`);
    check(JSON.stringify(ops).length <= 64 + ops.length * (2 * 4096 + 512), 'records larger than the lines they come from');
  },
  expected: () => false,
};

let verifier: TokenVerifier | undefined;
/** A token the development issuer really signed: the fuzzer edits its parts, keeping the signature. */
let genuine = '';
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const jsonish = fc.oneof(
  fc.json({ maxDepth: 2 }),
  fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'none', 'HS256', 'EdDSA', ''), shortText), kid: fc.option(shortText), typ: fc.option(fc.constant('JWT')) }).map((h) => JSON.stringify(h)),
  fc.record({ iss: fc.oneof(fc.constant(DEV_ISSUER), shortText), sub: shortText, exp: fc.oneof(fc.integer(), shortText), iat: fc.integer(), aud: fc.oneof(fc.constant(DEV_AUDIENCE), shortText) }).map((p) => JSON.stringify(p)),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => JSON.stringify({ alg: 'RS256', kid: 'k'.repeat(n) })),
);
const token: FuzzTarget = {
  name: 'token-verifier',
  async setup(scratch) {
    const dev = await DevIssuer.openOrCreate(scratch);
    genuine = await dev.mint();
    verifier = new TokenVerifier({ issuers: [], clockSkewSeconds: 60, jwksCacheMaxAgeSeconds: 3600 }, { extraIssuers: [{ config: dev.issuerConfig(), jwks: dev.jwks() }] });
  },
  structured: fc.oneof(
    fc
      .tuple(jsonish, jsonish, fc.oneof(fc.base64String({ maxLength: 90 }), shortText), fc.constantFrom('.', '..', ' '), fc.boolean())
      .map(([h, p, s, sep, encode]) => Buffer.from(encode ? `${b64url(h)}.${b64url(p)}.${s.replace(/=/g, '')}` : `${h}${sep}${p}${sep}${s}`, 'utf8')),
    // A genuine token with one part replaced, or one character changed: the signature check must refuse it.
    fc.tuple(fc.integer({ min: 0, max: 2 }), jsonish).map(([part, json]) => Buffer.from(genuine.split('.').map((x, i) => (i === part ? b64url(json) : x)).join('.'))),
    fc.tuple(fc.nat(), fc.constantFrom('A', 'a', '-', '_', '0', '.', '=')).map(([at, c]) => { const i = at % Math.max(genuine.length, 1); return Buffer.from(genuine.slice(0, i) + c + genuine.slice(i + 1)); }),
  ),
  async run(input) {
    const text = input.toString('utf8');
    try {
      await verifier!.verify(text);
    } catch (err) {
      if (err instanceof IdentityError) {
        const signature = text.trim().split('.')[2] ?? '';
        check(signature.length < 16 || !err.message.includes(signature), 'a refusal quotes the token signature');
        check(err.message.length <= 4096, `a refusal message of ${err.message.length} characters`);
      }
      throw err;
    }
    // Accepted: only the signed header and payload themselves may pass (base64url padding bits of the signature aside).
    const signed = (t: string) => t.trim().split('.').slice(0, 2).join('.');
    check(signed(text) === signed(genuine), 'a token whose signed parts were changed was accepted');
  },
  expected: (err) => err instanceof IdentityError,
};

let configDir = '';
const yamlScalar = fc.oneof(shortText, fc.integer().map(String), fc.constantFrom('~', 'null', 'true', '[]', '{}', '*a', '&a x', '!!binary AA', '!!js/function x', '<<: *a', "'", '"', '|', '>'));
const yamlDoc: fc.Arbitrary<string> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, yamlScalar, tie('map'), tie('list')),
  map: fc.array(fc.tuple(fc.oneof(fc.constantFrom('dataDir', 'identity', 'issuers', 'targets', 'policy', 'rules', 'postgres', 'log', 'recording', 'kind', 'host', 'port'), shortText), tie('node')), { maxLength: 4 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}: ${v as string}`).join(', ')}}`),
  list: fc.array(tie('node'), { maxLength: 4 }).map((vs) => `[${(vs as string[]).join(', ')}]`),
})).node as fc.Arbitrary<string>;

let configRuns = 0;
const config: FuzzTarget = {
  name: 'config-loader',
  async setup(scratch) {
    configDir = scratch;
  },
  structured: fc.oneof(yamlDoc, fc.constant('a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c, *c]\n')).map((s) => Buffer.from(s, 'utf8')),
  run(input) {
    const file = join(configDir, `c${configRuns++ % 4}.yaml`);
    writeFileSync(file, input);
    loadConfig(file);
  },
  expected: (err) => err instanceof ConfigError && err.code === 'TG_CONFIG_INVALID' && err.message.length <= 256 * 1024,
};

const KNOWN_CLASSES = new Set(['read', 'write', 'ddl', 'admin', 'function', 'code', 'transaction', 'session']);
const sqlWord = fc.constantFrom('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'TABLE', 'FROM', 'WHERE', 'WITH', 'AS', '(', ')', ';', ',', '*', '1', "'x'", '$$', '$a$', '--', '/*', '*/', 'pg_sleep(1)', 'set_config', 'COPY', 'DO', 'EXECUTE', 'PREPARE', 'BEGIN', 'COMMIT', 'SET', 'RESET', 'VACUUM', 'LOCK', 't', 'x', '"q"', 'E\'\\\'', 'INTO', 'VALUES', 'RETURNING', 'CALL', 'EXPLAIN', 'ANALYZE');
const classifier: FuzzTarget = {
  name: 'statement-classifier',
  setup: () => loadClassifier(),
  structured: fc.oneof(fc.array(fc.oneof({ weight: 5, arbitrary: sqlWord }, { weight: 1, arbitrary: shortText }), { maxLength: 30 }).map((ws) => ws.join(' ')), fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 5000 }).map((n) => `SELECT ${'('.repeat(n)}1${')'.repeat(n)}`)).map((s) => Buffer.from(s, 'utf8')),
  run(input) {
    const result = classifyStatement(input.toString('utf8'));
    for (const c of result.classes) check(KNOWN_CLASSES.has(c), `unknown class ${c}`);
    if (result.parseError !== undefined) check(result.classes.includes('admin'), 'a statement that does not parse is not refused as admin');
    for (const s of result.statements) for (const c of s.classes) check(result.classes.includes(c), 'the union misses a statement class');
    // Hiding a statement among others never lowers what it needs.
    const wrapped = classifyStatement(`SELECT 1;\n${input.toString('utf8')}\n;`);
    if (result.parseError === undefined && wrapped.parseError === undefined) {
      for (const c of result.classes) check(wrapped.classes.includes(c), `class ${c} lost when the statement is surrounded by others`);
    }
  },
  expected: () => false,
};

export const TARGETS: FuzzTarget[] = [startup, frontend, backend, scram, sftp, scp, token, config, classifier];

/** Targets that misbehave on purpose, so the tests show the watchdog catches what it claims to. */
export const SELF_TEST_TARGETS: FuzzTarget[] = [
  {
    name: 'self-test-hang',
    corpus: 'self-test',
    structured: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b)),
    run(input) {
      // eslint-disable-next-line no-empty
      if (input.length > 4) for (;;) {}
    },
    expected: () => false,
  },
  {
    name: 'self-test-memory',
    corpus: 'self-test',
    structured: fc.constant(Buffer.from('grow')),
    run() {
      const hoard: Buffer[] = [];
      for (;;) hoard.push(Buffer.alloc(1 << 20, 1).toString('latin1') as unknown as Buffer);
    },
    expected: () => false,
  },
  {
    name: 'self-test-throw',
    corpus: 'self-test',
    structured: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    run(input) {
      if (input.length > 2) throw new TypeError('not a documented refusal');
    },
    expected: (err) => err instanceof ProtocolError,
  },
];

export function targetNamed(name: string): FuzzTarget {
  const t = [...TARGETS, ...SELF_TEST_TARGETS].find((x) => x.name === name);
  if (!t) throw new Error(`TG_FUZZ_UNKNOWN_TARGET: ${name}; known: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}

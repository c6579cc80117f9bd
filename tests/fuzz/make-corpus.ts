/** Writes the seed corpus: one valid example of each input shape the parsers see. Run once; the files are kept. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR } from './mutate.js';

const cstr = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const i16 = (v: number) => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b; };
const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v | 0); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
const packet = (code: number, body: Buffer) => Buffer.concat([i32(8 + body.length), i32(code), body]);
const msg = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), i32(4 + body.length), body]);
const sftp = (type: number, ...fields: Buffer[]) => { const body = Buffer.concat([Buffer.from([type]), ...fields]); return Buffer.concat([u32(body.length), body]); };
const str = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const scp = (upload: boolean, source: string, sink: Buffer) => { const s = Buffer.from((upload ? 'U' : 'D') + source, 'latin1'); return Buffer.concat([u32(s.length), s, sink]); };

const startupParams = (p: Record<string, string>) => Buffer.concat([...Object.entries(p).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const corpus: Record<string, Record<string, Buffer | string>> = {
  'startup-packet': {
    'ssl-request': packet(80877103, Buffer.alloc(0)),
    'gssenc-request': packet(80877104, Buffer.alloc(0)),
    'cancel-request': packet(80877102, Buffer.concat([i32(4242), i32(-99)])),
    'startup-psql': packet(196608, startupParams({ user: 'ci', database: 'app', application_name: 'psql', client_encoding: 'UTF8' })),
    'startup-pq-options': packet(196610, startupParams({ user: 'ci', database: 'app', '_pq_.command_marker': '1' })),
    'ssl-then-startup': Buffer.concat([packet(80877103, Buffer.alloc(0)), packet(196608, startupParams({ user: 'ci', database: 'app' }))]),
  },
  'frontend-messages': {
    'simple-query': Buffer.concat([msg('p', cstr('eyJhbGciOiJSUzI1NiJ9.e30.sig')), msg('Q', cstr('SELECT 1; SELECT 2')), msg('X', Buffer.alloc(0))]),
    'extended-query': Buffer.concat([
      msg('P', Buffer.concat([cstr('s1'), cstr('SELECT $1::int, $2'), i16(2), i32(23), i32(25)])),
      msg('B', Buffer.concat([cstr(''), cstr('s1'), i16(2), i16(0), i16(1), i16(2), i32(2), Buffer.from('42'), i32(-1), i16(0)])),
      msg('D', Buffer.concat([Buffer.from('P'), cstr('')])),
      msg('E', Buffer.concat([cstr(''), i32(0)])),
      msg('C', Buffer.concat([Buffer.from('S'), cstr('s1')])),
      msg('S', Buffer.alloc(0)),
    ]),
    'copy-in': Buffer.concat([msg('Q', cstr('COPY t FROM STDIN')), msg('d', Buffer.from('1\tx\n')), msg('c', Buffer.alloc(0)), msg('f', cstr('aborted'))]),
    'function-call': Buffer.concat([msg('F', Buffer.concat([i32(1598), i16(0), i16(0), i16(0)])), msg('H', Buffer.alloc(0))]),
  },
  'backend-framer': {
    'auth-ok-and-params': Buffer.concat([msg('R', i32(0)), msg('S', Buffer.concat([cstr('server_version'), cstr('15.18')])), msg('K', Buffer.concat([i32(77), i32(88)])), msg('Z', Buffer.from('I'))]),
    'rows': Buffer.concat([msg('T', Buffer.concat([i16(1), cstr('n'), i32(0), i16(0), i32(23), i16(4), i32(-1), i16(0)])), msg('D', Buffer.concat([i16(1), i32(1), Buffer.from('1')])), msg('C', cstr('SELECT 1')), msg('Z', Buffer.from('I'))]),
    'error': Buffer.concat([msg('E', Buffer.concat([cstr('SERROR'), cstr('C42P01'), cstr('Mrelation does not exist'), Buffer.from([0])])), msg('Z', Buffer.from('E'))]),
    'copy-out': Buffer.concat([msg('H', Buffer.concat([Buffer.from([0]), i16(1), i16(0)])), msg('d', Buffer.from('1\tx\n')), msg('c', Buffer.alloc(0)), msg('C', cstr('COPY 1'))]),
    'sasl': Buffer.concat([msg('R', Buffer.concat([i32(10), cstr('SCRAM-SHA-256'), Buffer.from([0])])), msg('R', Buffer.concat([i32(11), Buffer.from('r=abc,s=c2FsdA==,i=4096')]))]),
  },
  'scram-server': {
    'first-and-final': 'r=NONCE,s=QSXCR+Q6sek8bf92,i=16\nv=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    'first-and-error': 'r=NONCE,s=QSXCR+Q6sek8bf92,i=1\ne=invalid-proof',
    'extensions': 'r=NONCEserver,s=c2FsdA==,i=4,m=ext\nv=AAAA,x=y',
  },
  'sftp-codec': {
    'init': sftp(1, u32(3)),
    'open': sftp(3, u32(1), str('/srv/data.csv'), u32(0x1a), u32(0)),
    'write': sftp(6, u32(2), str('h1'), Buffer.alloc(8), str('payload')),
    'read': sftp(5, u32(3), str('h1'), Buffer.alloc(8), u32(32768)),
    'rename': sftp(18, u32(4), str('/a'), str('/b')),
    'extended-posix-rename': sftp(200, u32(5), str('posix-rename@openssh.com'), str('/a'), str('/b')),
    'extended-fsync': sftp(200, u32(6), str('fsync@openssh.com'), str('h1')),
    'status': sftp(101, u32(7), u32(3), str('Permission denied'), str('en')),
    'handle': sftp(102, u32(8), str('h1')),
    'attrs-size': sftp(105, u32(9), u32(1), Buffer.from([0, 0, 0, 0, 0, 0, 4, 0])),
    'name': sftp(104, u32(10), u32(1), str('a'), str('-rw-r--r-- a'), u32(0)),
    'version': sftp(2, u32(3)),
  },
  'scp-observer': {
    'upload-one-file': scp(true, 'C0644 10 app.tgz\n0123456789\0', Buffer.from([0, 0, 0])),
    'upload-tree-refused': scp(true, 'D0755 0 conf\nC0600 3 secret\nC0644 2 ok.txt\nhi\0E\n', Buffer.concat([Buffer.from([0, 0]), Buffer.from('\x01scp: /srv/conf/secret: Permission denied\n'), Buffer.from([0, 0, 0])])),
    'download-missing': scp(false, '\x01scp: /srv/out.bin: No such file or directory\n', Buffer.from([0])),
    'download-with-times': scp(false, 'T1700000000 0 1700000000 0\nC0644 4 out.bin\nabcd\0', Buffer.from([0, 0, 0, 0])),
  },
  'token-verifier': {
    'rs256-shape': `${b64({ alg: 'RS256', typ: 'JWT', kid: 'dev' })}.${b64({ iss: 'https://trailgate.dev/dev-issuer', sub: 'repo:acme/app:ref:refs/heads/main', aud: 'trailgate', exp: 4102444800, iat: 1700000000 })}.${Buffer.alloc(256, 7).toString('base64url')}`,
    'alg-none': `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`,
    'hs256': `${b64({ alg: 'HS256' })}.${b64({ iss: 'https://trailgate.dev/dev-issuer', sub: 'x' })}.c2ln`,
    'five-parts': 'a.b.c.d.e',
    'not-json': `${Buffer.from('{"alg":').toString('base64url')}.e30.c2ln`,
  },
  'config-loader': {
    'minimal': 'dataDir: ./data\nidentity:\n  issuers: []\ntargets:\n  app: { host: 127.0.0.1, port: 5432, database: app, user: app, password: { env: PGPASSWORD } }\npolicy:\n  rules: []\n',
    'ssh-target': 'targets:\n  web:\n    kind: ssh\n    host: 10.0.0.5\n    user: deploy\n    privateKey: { file: /etc/trailgate/key }\n    hostKey: "SHA256:abc"\n',
    'aliases': 'base: &b { host: h, port: 1 }\ntargets:\n  a: *b\n  b: { <<: *b, database: x }\n',
    'wrong-types': 'postgres:\n  listen: { port: "five" }\nrecording: { mode: sometimes }\n',
    'tags-and-anchors': '--- !!map\nlog: !!str embedded\n...\n',
  },
  'statement-classifier': {
    'select': 'SELECT id, name FROM users WHERE id = $1',
    'cte-write': 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'do-block': "DO $$ BEGIN PERFORM pg_sleep(0); END $$",
    'multi': 'BEGIN; UPDATE a SET x = 1; COMMIT; SET search_path = public',
    'prepare-execute': 'PREPARE p AS DELETE FROM t; EXECUTE p',
    'copy-program': "COPY t TO PROGRAM 'cat'",
    'comment-hidden': 'SELECT 1 /* ; DROP TABLE t */ -- ; DROP TABLE u',
    'function-calls': "SELECT set_config('role', 'admin', false), lo_import('/etc/passwd')",
  },
};

for (const [target, seeds] of Object.entries(corpus)) {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(seeds)) writeFileSync(join(dir, `${name}.seed`), bytes);
}
console.log(`wrote ${Object.values(corpus).reduce((n, s) => n + Object.keys(s).length, 0)} seeds under ${CORPUS_DIR}`);

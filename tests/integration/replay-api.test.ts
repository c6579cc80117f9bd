import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { promisify } from 'node:util';
import { GatewayHarness, sessionOf } from '../support/gateway-harness.js';
import { FakeOidcIssuer } from '../support/oidc-server.js';
import { startReplay, type Person, type ReplayHarness } from '../support/replay-harness.js';
import { sshIdentity, sshSessionRecords, writeSshSession } from '../support/ssh-recording.js';

const run = promisify(execFile);

describe('replay API on recorded sessions', () => {
  let h: GatewayHarness;
  let r: ReplayHarness;
  let oidc: FakeOidcIssuer;
  let pgSession: string;
  let sshSession: string;
  let otherSession: string;
  const marker = `tg_marker_${Date.now()}`;

  before(async () => {
    h = await GatewayHarness.start();
    oidc = await FakeOidcIssuer.start();
    const client = await h.client({ token: await h.token({ repository: 'acme/payments', actor: 'octocat', claims: { run_id: '777', run_attempt: '2' } }) });
    pgSession = await sessionOf(h, client);
    await client.query(`select $1::text as ${marker}, 2 as n`, ['param-value']);
    await client.query('select * from no_such_table_here').catch(() => undefined);
    const ended = h.endedSession((events) => events[0]?.sessionId === pgSession);
    await client.end();
    await ended;
    const other = await h.client({ token: await h.token({ repository: 'acme/other', actor: 'hubot' }) });
    otherSession = await sessionOf(h, other);
    await other.query('select 1');
    const otherEnded = h.endedSession((events) => events[0]?.sessionId === otherSession);
    await other.end();
    await otherEnded;
    sshSession = writeSshSession(
      h.gateway.log.file,
      sshSessionRecords(
        [
          { at: 5, open: { channel: 0, cols: 100, rows: 30, term: 'xterm' } },
          { at: 10, command: 'systemctl restart api' },
          { at: 20, output: 'restarted\r\n' },
        ],
        { start: Date.now() - 60_000, identity: sshIdentity('acme/payments') },
      ),
    );
    r = await startReplay(h, { oidc: { issuer: oidc.issuer, clientId: 'replay-ui', clientSecret: 'stand-in-secret', scopes: ['openid', 'email'], rolesClaim: 'groups', roles: { viewer: ['replay-viewers'], admin: ['replay-admins'] }, nameClaim: 'email' } });
    oidc.clients.set('replay-ui', { secret: 'stand-in-secret', redirectUris: [`${r.url}/auth/oidc/callback`] });
  });

  after(async () => {
    await r?.stop();
    await oidc?.stop();
    await h?.stop();
  });

  const api = (path: string, who?: Person) => fetch(`${r.url}${path}`, { headers: who ? { authorization: `Bearer ${r.tokens[who]}` } : {} });
  const json = async (path: string, who: Person) => {
    const res = await api(path, who);
    assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const ids = (body: Record<string, unknown>) => (body.sessions as { sessionId: string }[]).map((s) => s.sessionId);

  it('asks for sign-in without a token, and refuses a wrong one', async () => {
    for (const path of ['/api/sessions', `/api/sessions/${pgSession}`, `/api/sessions/${sshSession}/cast`]) {
      const res = await api(path);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'TG_REPLAY_UNAUTHENTICATED');
    }
    const wrong = await fetch(`${r.url}/api/sessions`, { headers: { authorization: 'Bearer not-a-token' } });
    assert.equal(wrong.status, 401);
  });

  it('gives a signed-in user without a role nothing: every route 403, the page too', async () => {
    for (const path of ['/api/sessions', `/api/sessions/${pgSession}`, `/api/sessions/${pgSession}/events`, `/api/sessions/${pgSession}/transcript`, `/api/sessions/${sshSession}/cast`, `/api/sessions/${pgSession}/verdict`]) {
      const res = await api(path, 'nobody');
      assert.equal(res.status, 403, path);
      const body = await res.text();
      assert.ok(!body.includes(marker) && !body.includes('acme/payments'), `${path} leaked recorded content`);
    }
    for (const page of ['/', `/sessions/${pgSession}`]) {
      const res = await fetch(`${r.url}${page}`, { headers: { authorization: `Bearer ${r.tokens.nobody}` } });
      assert.equal(res.status, 403);
      const body = await res.text();
      assert.ok(!body.includes(pgSession) && !body.includes(marker));
    }
  });

  it('limits a viewer to the repositories configured for them', async () => {
    assert.deepEqual(ids(await json('/api/sessions', 'outsider')), [otherSession]);
    assert.equal((await api(`/api/sessions/${pgSession}`, 'outsider')).status, 403);
    assert.equal((await api(`/api/sessions/${pgSession}/transcript`, 'outsider')).status, 403);
    assert.equal((await api(`/api/sessions/${otherSession}`, 'outsider')).status, 200);
  });

  it('finds sessions by command text and by repository, run, actor, target, protocol and time', async () => {
    assert.deepEqual(ids(await json(`/api/sessions?q=${marker.toUpperCase()}`, 'viewer')), [pgSession]);
    assert.deepEqual(ids(await json('/api/sessions?q=systemctl%20restart', 'viewer')), [sshSession]);
    assert.ok(ids(await json('/api/sessions?repository=acme/pay*', 'viewer')).includes(pgSession));
    assert.ok(!ids(await json('/api/sessions?repository=acme/pay*', 'viewer')).includes(otherSession));
    assert.deepEqual(ids(await json('/api/sessions?run=777/2', 'viewer')), [pgSession]);
    assert.deepEqual(ids(await json('/api/sessions?actor=hubot', 'viewer')), [otherSession]);
    assert.deepEqual(ids(await json('/api/sessions?target=web-1', 'viewer')), [sshSession]);
    assert.deepEqual(ids(await json('/api/sessions?protocol=ssh', 'viewer')), [sshSession]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.deepEqual(ids(await json(`/api/sessions?from=${encodeURIComponent(future)}`, 'viewer')), []);
    assert.equal((await api('/api/sessions?from=yesterday', 'viewer')).status, 400);
  });

  it('serves a Postgres transcript: statement, parameters, decision, outcome, rows, error', async () => {
    const t = (await json(`/api/sessions/${pgSession}/transcript`, 'viewer')) as { entries: Record<string, unknown>[] };
    const stmt = t.entries.find((e) => String(e.text).includes(marker))!;
    assert.deepEqual(stmt.parameters, ['param-value']);
    assert.equal((stmt.decision as { outcome: string }).outcome, 'allowed');
    assert.deepEqual(stmt.completion && { outcome: (stmt.completion as { outcome: string }).outcome, rows: (stmt.completion as { rows: number }).rows }, { outcome: 'ok', rows: 1 });
    const failed = t.entries.find((e) => String(e.text).includes('no_such_table_here'))!;
    assert.equal((failed.completion as { sqlstate: string }).sqlstate, '42P01');
    const text = await (await api(`/api/sessions/${pgSession}/transcript?format=text`, 'viewer')).text();
    assert.match(text, new RegExp(`select \\$1::text as ${marker}, 2 as n;`));
    assert.match(text, /\$1 = 'param-value'/);
    assert.match(text, /ERROR · .*42P01/);
    const cast = (await (await api(`/api/sessions/${pgSession}/transcript?format=cast`, 'viewer')).text()).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.equal((cast[0] as { width: number }).width, 120);
    const markers = cast.slice(1).filter((e) => (e as unknown[])[1] === 'm').map((e) => (e as string[])[2]);
    assert.ok(markers.some((m) => m!.includes(marker)));
  });

  it('serves the terminal of an SSH session as asciicast v2 and v3', async () => {
    const v2 = await (await api(`/api/sessions/${sshSession}/cast`, 'viewer')).text();
    const [header, ...events] = v2.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.equal((header as { width: number }).width, 100);
    assert.deepEqual(events.map((e) => (e as unknown[]).slice(1)), [
      ['m', '$ systemctl restart api'],
      ['o', 'restarted\r\n'],
    ]);
    const v3 = await (await api(`/api/sessions/${sshSession}/cast?version=3`, 'viewer')).text();
    assert.equal((JSON.parse(v3.split('\n')[0]!) as { version: number }).version, 3);
    const pgCast = await api(`/api/sessions/${pgSession}/cast`, 'viewer');
    assert.equal(pgCast.status, 404);
    assert.equal(((await pgCast.json()) as { code: string }).code, 'TG_CAST_NOT_TERMINAL');
  });

  it('shows the integrity verdict of trailgate verify: intact, truncated, and tampered naming the record', async () => {
    const intact = await json(`/api/sessions/${pgSession}`, 'viewer');
    assert.equal((intact.verdict as { status: string }).status, 'ok', JSON.stringify(intact.verdict));
    // Built records carry a hash chain but no gateway signature, so they have no signed end.
    const unsigned = (await json(`/api/sessions/${sshSession}/verdict`, 'viewer')) as { status: string };
    assert.equal(unsigned.status, 'truncated', JSON.stringify(unsigned));
    const db = new Database(h.gateway.log.file);
    try {
      db.prepare("UPDATE records SET data = json_set(data, '$.text', 'select 2') WHERE session_id = ? AND type = 'command.started'").run(otherSession);
    } finally {
      db.close();
    }
    const tampered = (await json(`/api/sessions/${otherSession}/verdict`, 'viewer')) as { status: string; code: string; failedSeq: number };
    assert.equal(tampered.status, 'failed');
    assert.equal(tampered.code, 'TG_VERIFY_MODIFIED');
    const events = (await json(`/api/sessions/${otherSession}/events`, 'viewer')) as { events: { seq: number; type: string }[] };
    assert.equal(tampered.failedSeq, events.events.find((e) => e.type === 'command.started')!.seq);
  });

  it('documents every API route with schemas in an OpenAPI document', async () => {
    const doc = (await (await fetch(`${r.url}/api/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };
    assert.match(doc.openapi, /^3\./);
    for (const path of ['/api/me', '/api/sessions', '/api/sessions/{id}', '/api/sessions/{id}/events', '/api/sessions/{id}/verdict', '/api/sessions/{id}/cast', '/api/sessions/{id}/transcript']) {
      const op = doc.paths[path]?.get;
      assert.ok(op, `${path} is documented`);
      assert.ok(op.responses['200'] && op.security, `${path} has a response schema and security`);
    }
    assert.ok(!Object.keys(doc.paths).some((p) => p === '/login' || p.startsWith('/assets')));
  });

  it('sends a strict Content-Security-Policy without inline script', async () => {
    const res = await fetch(`${r.url}/login`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\*/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  it('signs people in through OIDC with PKCE and maps their groups to roles', async () => {
    oidc.person = { sub: 'p-7', email: 'alice@example.com', groups: ['replay-viewers'] };
    const start = await fetch(`${r.url}/auth/oidc/login?next=/sessions/${pgSession}`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const authorize = new URL(start.headers.get('location')!);
    assert.equal(authorize.origin, oidc.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    const attemptCookie = start.headers.getSetCookie().find((c) => c.startsWith('tg_oidc='))!.split(';')[0]!;
    const provider = await fetch(authorize, { redirect: 'manual' });
    const callback = provider.headers.get('location')!;
    // Without the attempt cookie of the browser that started, the callback is refused.
    assert.equal((await fetch(callback, { redirect: 'manual' })).status, 401);
    const again = await fetch(`${r.url}/auth/oidc/login`, { redirect: 'manual' });
    const againCookie = again.headers.getSetCookie().find((c) => c.startsWith('tg_oidc='))!.split(';')[0]!;
    const back = await fetch((await fetch(again.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!, { headers: { cookie: againCookie }, redirect: 'manual' });
    assert.equal(back.status, 200);
    const signIn = back.headers.getSetCookie().find((c) => c.startsWith('tg_replay='))!;
    assert.match(signIn, /HttpOnly/i);
    assert.match(signIn, /SameSite=Strict/i);
    const me = (await (await fetch(`${r.url}/api/me`, { headers: { cookie: signIn.split(';')[0]! } })).json()) as { name: string; roles: string[]; via: string };
    assert.deepEqual(me, { name: 'alice@example.com', roles: ['viewer'], via: 'oidc' });
    assert.ok(attemptCookie);
    // A person in no mapped group signs in but sees nothing.
    oidc.person = { sub: 'p-8', email: 'mallory@example.com', groups: ['marketing'] };
    const s2 = await fetch(`${r.url}/auth/oidc/login`, { redirect: 'manual' });
    const c2 = s2.headers.getSetCookie().find((c) => c.startsWith('tg_oidc='))!.split(';')[0]!;
    const b2 = await fetch((await fetch(s2.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!, { headers: { cookie: c2 }, redirect: 'manual' });
    const cookie2 = b2.headers.getSetCookie().find((c) => c.startsWith('tg_replay='))!.split(';')[0]!;
    assert.equal((await fetch(`${r.url}/api/sessions`, { headers: { cookie: cookie2 } })).status, 403);
  });

  it('never writes a token into its log', () => {
    assert.ok(r.logLines.length > 0);
    for (const line of r.logLines) for (const token of Object.values(r.tokens)) assert.ok(!line.includes(token));
  });

  it('writes casts and transcripts from the command line', async () => {
    const config = join(h.dataDir, 'cli.yaml');
    writeFileSync(config, `dataDir: ${h.dataDir}\n`);
    const cli = (...args: string[]) => run(process.execPath, ['bin/trailgate.js', '--config', config, ...args], { maxBuffer: 64 * 1024 * 1024 });
    const cast = await cli('cast', sshSession.slice(0, 20));
    assert.equal(cast.stdout, await (await api(`/api/sessions/${sshSession}/cast`, 'viewer')).text());
    const text = await cli('transcript', pgSession);
    assert.match(text.stdout, new RegExp(marker));
    const json = JSON.parse((await cli('transcript', pgSession, '--format', 'json')).stdout) as { entries: unknown[] };
    assert.ok(json.entries.length >= 3);
    await assert.rejects(cli('cast', pgSession), (e: { stderr: string; code: number }) => e.code === 1 && /no terminal.*transcript/.test(e.stderr));
  });
});

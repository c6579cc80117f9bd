// schemathesis (PyPI, tests/services/schemathesis.sh) against the replay API's served OpenAPI document: generated
// and mutated requests, as a signed-in viewer and as nobody. No 5xx, every response as documented, auth enforced.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ReplayConfig } from '../../services/config/replay-schema.js';
import { EmbeddedReplaySource } from '../../services/replay/embedded-source.js';
import { embeddedLogIntegrity } from '../../services/replay/log-integrity.js';
import { sha256 } from '../../services/replay/server/principals.js';
import { startReplayServer, type RunningReplay } from '../../services/replay/server/start.js';
import { sshIdentity, sshSessionRecords, writeSshSession } from '../support/ssh-recording.js';

const run = promisify(execFile);
const BIN = process.env.TG_SCHEMATHESIS_BIN;
/** Bounded: examples per operation, and a time budget per run (spent whole: fuzzing repeats until it ends). */
const EXAMPLES = Number(process.env.TG_SCHEMATHESIS_EXAMPLES ?? 15);
const MAX_SECONDS = Number(process.env.TG_SCHEMATHESIS_SECONDS ?? 12);

interface Outcome {
  code: number;
  output: string;
}

describe('replay API under schemathesis', () => {
  let dir: string;
  let replay: RunningReplay;
  let source: EmbeddedReplaySource;
  const viewerToken = randomBytes(18).toString('base64url');

  before(async () => {
    assert.ok(BIN, 'TG_SCHEMATHESIS_BIN must be set (tests/services/schemathesis.sh install)');
    dir = mkdtempSync(join(tmpdir(), 'tg-schemathesis-'));
    const file = join(dir, 'trailgate.db');
    writeSshSession(
      file,
      sshSessionRecords(
        [
          { at: 5, open: { channel: 0, cols: 80, rows: 24, term: 'xterm' } },
          { at: 10, command: 'uptime' },
          { at: 20, output: 'up 1 day\r\n' },
        ],
        { start: Date.now() - 60_000, identity: sshIdentity('acme/payments') },
      ),
    );
    source = new EmbeddedReplaySource(file);
    const config = ReplayConfig.parse({
      listen: { host: '127.0.0.1', port: 0 },
      users: [{ name: 'viewer', roles: ['viewer'], tokenSha256: sha256(viewerToken).toString('hex') }],
    });
    replay = await startReplayServer({ source, config, log: () => undefined, integrity: embeddedLogIntegrity(source.log, { dataDir: dir }) });
  });

  after(async () => {
    await replay?.close();
    source?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** One schemathesis run; the token reaches it through its config file's environment expansion, never argv. */
  async function schemathesis(name: string, checks: string, token?: string): Promise<Outcome> {
    const config = join(dir, `${name}.toml`);
    writeFileSync(config, token ? '[headers]\nAuthorization = "Bearer ${TG_ST_TOKEN}"\n' : '');
    const report = join(dir, `${name}.xml`);
    const args = [
      '--config-file', config, 'run', `${replay.url}/api/openapi.json`,
      '--checks', checks, '--max-examples', String(EXAMPLES), '--max-time', String(MAX_SECONDS),
      '--phases', 'examples,coverage,fuzzing', '--workers', '1', '--seed', '18', '--no-color',
      '--generation-database', 'none', '--request-timeout', '10', '--report', 'junit', '--report-junit-path', report,
    ];
    try {
      const { stdout, stderr } = await run(BIN!, args, { cwd: dir, env: { ...process.env, TG_ST_TOKEN: token ?? '' }, timeout: (MAX_SECONDS + 60) * 1000, maxBuffer: 32 * 1024 * 1024 });
      return { code: 0, output: `${stdout}\n${stderr}` };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}\n${e.stderr ?? ''}` };
    }
  }

  it('serves an OpenAPI document that names every API route', async () => {
    const doc = (await (await fetch(`${replay.url}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ['/api/me', '/api/sessions', '/api/sessions/{id}', '/api/sessions/{id}/events', '/api/sessions/{id}/cast', '/api/sessions/{id}/transcript']) {
      assert.ok(doc.paths[path], `${path} is missing from the OpenAPI document`);
    }
  });

  it('signed in: no server error, responses and status codes as documented', async () => {
    const { code, output } = await schemathesis('viewer', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth', viewerToken);
    assert.equal(code, 0, output.slice(-6000));
    assert.doesNotMatch(output, new RegExp(viewerToken), 'the token must not appear in the output');
  });

  it('as nobody: every API route refuses with 401 as documented, no server error', async () => {
    const { code, output } = await schemathesis('nobody', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance');
    assert.equal(code, 0, output.slice(-6000));
    const xml = readFileSync(join(dir, 'nobody.xml'), 'utf8');
    assert.match(xml, /testcase/, 'schemathesis ran no operation');
    // Nothing but 401 may come back without a sign-in: a 200 would be data handed to nobody.
    for (const path of ['/api/me', '/api/sessions', '/api/sessions/x', '/api/sessions/x/events', '/api/sessions/x/cast', '/api/sessions/x/transcript', '/api/sessions/x/verdict']) {
      assert.equal((await fetch(`${replay.url}${path}`)).status, 401, path);
    }
  });
});

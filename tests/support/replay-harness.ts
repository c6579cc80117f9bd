import { randomBytes } from 'node:crypto';
import { ReplayConfig, type ReplayUser } from '../../services/config/replay-schema.js';
import type { IntegrityChecker } from '../../services/replay/integrity.js';
import { EmbeddedReplaySource } from '../../services/replay/embedded-source.js';
import { embeddedLogIntegrity } from '../../services/replay/log-integrity.js';
import { sha256 } from '../../services/replay/server/principals.js';
import { startReplayServer, type RunningReplay } from '../../services/replay/server/start.js';
import type { GatewayHarness } from './gateway-harness.js';

/** People of the tests, by role; `nobody` is signed in but has no role, `outsider` sees only acme/other. */
export const PEOPLE = ['admin', 'viewer', 'nobody', 'outsider'] as const;
export type Person = (typeof PEOPLE)[number];

export interface ReplayHarness {
  replay: RunningReplay;
  url: string;
  tokens: Record<Person, string>;
  /** Every line the server logged, to check that no token ever appears. */
  logLines: string[];
  stop(): Promise<void>;
}

/** The replay server on the gateway harness's own embedded log, with a user for each role. */
export async function startReplay(h: GatewayHarness, o: { oidc?: ReplayConfig['oidc']; integrity?: IntegrityChecker } = {}): Promise<ReplayHarness> {
  const tokens = Object.fromEntries(PEOPLE.map((p) => [p, randomBytes(18).toString('base64url')])) as Record<Person, string>;
  process.env.TG_TEST_REPLAY_VIEWER_TOKEN = tokens.viewer;
  const users: ReplayUser[] = [
    { name: 'admin', roles: ['admin'], tokenSha256: sha256(tokens.admin).toString('hex') },
    // One user's token comes from the environment, as operators may configure it.
    { name: 'viewer', roles: ['viewer'], token: { env: 'TG_TEST_REPLAY_VIEWER_TOKEN' } },
    { name: 'nobody', roles: [], tokenSha256: sha256(tokens.nobody).toString('hex') },
    { name: 'outsider', roles: ['viewer'], repositories: ['acme/other'], tokenSha256: sha256(tokens.outsider).toString('hex') },
  ];
  const config = ReplayConfig.parse({ listen: { host: '127.0.0.1', port: 0 }, users, ...(o.oidc ? { oidc: o.oidc } : {}) });
  await h.gateway.writer.flush();
  const source = new EmbeddedReplaySource(h.gateway.log.file);
  const logLines: string[] = [];
  const integrity = o.integrity ?? embeddedLogIntegrity(source.log, { dataDir: h.dataDir });
  const replay = await startReplayServer({ source, config, log: (l) => logLines.push(l), integrity });
  return {
    replay,
    url: replay.url,
    tokens,
    logLines,
    stop: async () => {
      await replay.close();
      source.close();
    },
  };
}

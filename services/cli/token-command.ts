import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DevIssuer } from '../dev/dev-issuer.js';
import { cliConfig } from './cli-config.js';

export interface TokenOptions {
  repository: string;
  ref: string;
  sha?: string;
  workflow: string;
  actor: string;
  environment: string;
  event: string;
  audience: string;
  ttl: string;
  claim?: string[];
}

export async function runToken(configFile: string | undefined, o: TokenOptions): Promise<void> {
  const config = cliConfig(configFile);
  // Minting is possible only where `up --dev` created the issuer's key; production data dirs have none.
  if (!existsSync(join(config.dataDir, 'dev-issuer'))) {
    throw Object.assign(new Error(`the development issuer is not enabled in ${config.dataDir}; start \`trailgate up --dev\` once with this configuration`), { code: 'TG_DEV_ISSUER_DISABLED' });
  }
  const ttlSeconds = Number(o.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw Object.assign(new Error('--ttl takes a whole number of seconds'), { code: 'TG_USAGE' });
  const claims: Record<string, unknown> = {};
  for (const kv of o.claim ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 1) throw Object.assign(new Error(`--claim expects key=value, got '${kv}'`), { code: 'TG_USAGE' });
    claims[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const issuer = await DevIssuer.openOrCreate(config.dataDir);
  const token = await issuer.mint({
    repository: o.repository,
    ref: o.ref,
    ...(o.sha ? { sha: o.sha } : {}),
    workflow: o.workflow,
    actor: o.actor,
    environment: o.environment,
    eventName: o.event,
    audience: o.audience,
    ttlSeconds,
    claims,
  });
  process.stdout.write(`${token}\n`);
}

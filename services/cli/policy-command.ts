import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { JobIdentity } from '../../events/index.js';
import type { TrailgateConfig } from '../config/schema.js';
import { DevIssuer } from '../dev/dev-issuer.js';
import { DEV_DEMO_RULE } from '../gateway/gateway.js';
import { ciContextFromClaims, scalarClaims } from '../gateway/identity/claims.js';
import { TokenVerifier } from '../gateway/identity/token-verifier.js';
import { decide, explain } from '../gateway/policy/claim-rules.js';
import { cliConfig } from './cli-config.js';

export interface ExplainOptions {
  target: string;
  token?: string;
  claims?: string;
  issuer?: string;
  dev?: boolean;
}

/**
 * For operators debugging a refused job: which rules grant what on a target, and why the others
 * do not apply. Works on a token (verified when possible, explained even when not) or on claims.
 */
export async function runPolicyExplain(configFile: string | undefined, o: ExplainOptions): Promise<void> {
  const config = cliConfig(configFile);
  const rules = o.dev ? [...config.policy.rules, DEV_DEMO_RULE] : config.policy.rules;
  const { identity, note } = await identityFor(config, o);
  if (note) console.log(note);
  // Rights are per kind of target: an SSH host is decided on SSH rights.
  const kind = Object.hasOwn(config.targets, o.target) ? config.targets[o.target]!.kind : 'postgres';
  console.log(explain(decide(rules, identity, o.target, kind)));
}

async function identityFor(config: TrailgateConfig, o: ExplainOptions): Promise<{ identity: JobIdentity; note?: string }> {
  if (!o.token && !o.claims) throw Object.assign(new Error('pass --token TOKEN or --claims FILE (a JSON object of claims)'), { code: 'TG_USAGE' });
  const payload = o.token ? decodePayload(o.token) : (JSON.parse(readFileSync(o.claims!, 'utf8')) as Record<string, unknown>);
  const dev = o.dev && existsSync(join(config.dataDir, 'dev-issuer')) ? await DevIssuer.openOrCreate(config.dataDir) : null;
  const issuers = dev ? [...config.identity.issuers, dev.issuerConfig()] : config.identity.issuers;
  const issuer = issuers.find((i) => (o.issuer ? i.name === o.issuer : i.issuer === payload.iss));
  const identity: JobIdentity = {
    issuer: String(payload.iss ?? ''),
    issuerName: issuer?.name ?? o.issuer ?? 'unknown',
    profile: issuer?.profile ?? 'github',
    subject: String(payload.sub ?? ''),
    expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : '',
    ci: ciContextFromClaims(issuer?.profile ?? 'github', payload),
    claims: scalarClaims(payload),
  };
  if (!o.token) return { identity, note: 'claims given directly: no signature was checked' };
  try {
    await new TokenVerifier(config.identity, { extraIssuers: dev ? [{ config: dev.issuerConfig(), jwks: dev.jwks() }] : [] }).verify(o.token);
    return { identity, note: 'token verified' };
  } catch (err) {
    // An expired or foreign token is exactly what an operator debugs; explain its claims anyway.
    return { identity, note: `token NOT accepted by this gateway (${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}); explaining its claims anyway` };
  }
}

function decodePayload(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token.trim()) as Record<string, unknown>;
  } catch {
    throw Object.assign(new Error('--token is not a JWT'), { code: 'TG_USAGE' });
  }
}

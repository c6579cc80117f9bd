import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, link, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import type { IssuerConfig } from '../config/schema.js';

/** The `.invalid` TLD can never resolve, which marks this as no real issuer. */
export const DEV_ISSUER = 'https://trailgate.invalid/dev';
export const DEV_AUDIENCE = 'trailgate';
const ALG = 'RS256';

export interface MintOptions {
  repository?: string;
  ref?: string;
  sha?: string;
  workflow?: string;
  actor?: string;
  /** Deployment environment; null leaves the claim out, as GitHub does for jobs without one. */
  environment?: string | null;
  eventName?: string;
  ttlSeconds?: number;
  audience?: string | string[];
  /** Merged last, so any claim (iss, exp, …) can be overridden or set to an odd type. */
  claims?: Record<string, unknown>;
}

type KeyOf = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** The built-in development issuer: mints GitHub Actions-shaped tokens signed by a key kept in the data dir. */
export class DevIssuer {
  readonly kid: string;
  private readonly publicJwk: JWK;
  private readonly privateKey: KeyOf;

  private constructor(kid: string, publicJwk: JWK, privateKey: KeyOf) {
    this.kid = kid;
    this.publicJwk = publicJwk;
    this.privateKey = privateKey;
  }

  /** Reads the key pair from `<dataDir>/dev-issuer/`, creating it on first start. */
  static async openOrCreate(dataDir: string): Promise<DevIssuer> {
    const dir = join(dataDir, 'dev-issuer');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const privatePath = join(dir, 'private.jwk.json');
    const privateJwk = (await readJwk(privatePath)) ?? (await createKey(dir, privatePath));
    const kid = privateJwk.kid;
    if (typeof kid !== 'string') throw new Error(`${privatePath} has no kid; delete the dev-issuer directory to generate a new key`);
    const publicJwk = publicPart(privateJwk);
    await writeAtomically(join(dir, 'jwks.json'), `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`, 0o644);
    const privateKey = (await importJWK(privateJwk, ALG)) as KeyOf;
    return new DevIssuer(kid, publicJwk, privateKey);
  }

  issuerConfig(): IssuerConfig {
    return { name: 'dev', issuer: DEV_ISSUER, audience: DEV_AUDIENCE, profile: 'github', algorithms: [ALG] };
  }

  jwks(): JSONWebKeySet {
    return { keys: [{ ...this.publicJwk }] };
  }

  /** A token shaped like the one GitHub Actions issues: discrete claims, ids as strings. */
  async mint(opts: MintOptions = {}): Promise<string> {
    const repository = opts.repository ?? 'acme/payments';
    const owner = repository.split('/')[0] ?? repository;
    const ref = opts.ref ?? 'refs/heads/main';
    const sha = opts.sha ?? randomBytes(20).toString('hex');
    const workflow = opts.workflow ?? 'deploy';
    const actor = opts.actor ?? 'octocat';
    const environment = opts.environment === undefined ? 'production' : opts.environment;
    const workflowRef = `${repository}/.github/workflows/${workflow}.yml@${ref}`;
    const iat = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: DEV_ISSUER,
      aud: opts.audience ?? DEV_AUDIENCE,
      sub: environment ? `repo:${repository}:environment:${environment}` : `repo:${repository}:ref:${ref}`,
      jti: randomUUID(),
      iat,
      nbf: iat,
      exp: iat + (opts.ttlSeconds ?? 600),
      repository,
      repository_id: stableId(`repo:${repository}`),
      repository_owner: owner,
      repository_owner_id: stableId(`owner:${owner}`),
      repository_visibility: 'private',
      ref,
      ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      sha,
      workflow,
      workflow_ref: workflowRef,
      workflow_sha: sha,
      job_workflow_ref: workflowRef,
      job_workflow_sha: sha,
      run_id: String(randomInt(1_000_000_000, 281_474_976_710_655)),
      run_attempt: '1',
      run_number: String(randomInt(1, 10_000)),
      actor,
      actor_id: stableId(`actor:${actor}`),
      event_name: opts.eventName ?? 'push',
      runner_environment: 'github-hosted',
      ...(environment ? { environment } : {}),
      ...opts.claims,
    };
    return new SignJWT(claims).setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'JWT' }).sign(this.privateKey);
  }
}

/** Ids stay the same for the same name across tokens, so policies can pin them. */
function stableId(name: string): string {
  return String(createHash('sha256').update(name).digest().readUIntBE(0, 4));
}

async function readJwk(path: string): Promise<JWK | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the dev issuer key ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Generates the key and publishes it with link(), so two gateways starting at once agree on one key. */
async function createKey(dir: string, privatePath: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const full: JWK = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ALG, use: 'sig' };
  const temp = join(dir, `.private.${process.pid}.${randomUUID()}.tmp`);
  await writeFile(temp, `${JSON.stringify(full)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, privatePath);
    return full;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const existing = await readJwk(privatePath);
    if (!existing) throw err;
    return existing;
  } finally {
    await unlink(temp);
  }
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, text, { mode });
  await rename(temp, path);
}

function publicPart(jwk: JWK): JWK {
  const { kty, n, e, kid } = jwk;
  return { kty, n, e, kid, alg: ALG, use: 'sig' };
}

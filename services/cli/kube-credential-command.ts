import { readFileSync } from 'node:fs';

export interface KubeCredentialOptions {
  tokenFile?: string;
  tokenEnv: string;
  audience: string;
}

const usage = (message: string) => Object.assign(new Error(message), { code: 'TG_KUBE_NO_TOKEN' });

/**
 * A kubectl exec credential plugin: prints an ExecCredential with the job's CI token (from a file, an
 * environment variable, or GitHub Actions' token endpoint) and its expiry, so kubectl asks again when
 * it runs out. The kubeconfig names it under `users[].user.exec`.
 */
export async function runKubeCredential(o: KubeCredentialOptions): Promise<void> {
  const token = await findToken(o);
  // kubectl says which apiVersion it expects in KUBERNETES_EXEC_INFO; answer in the same one.
  let apiVersion = 'client.authentication.k8s.io/v1';
  try {
    const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? '{}') as { apiVersion?: string };
    if (typeof info.apiVersion === 'string' && info.apiVersion.startsWith('client.authentication.k8s.io/')) apiVersion = info.apiVersion;
  } catch {
    // no or unreadable exec info: the stable version
  }
  const exp = expiryOf(token);
  const status = { token, ...(exp ? { expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}) };
  process.stdout.write(`${JSON.stringify({ apiVersion, kind: 'ExecCredential', status })}\n`);
}

async function findToken(o: KubeCredentialOptions): Promise<string> {
  if (o.tokenFile) {
    try {
      return readFileSync(o.tokenFile, 'utf8').trim();
    } catch (err) {
      throw usage(`--token-file ${o.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const fromEnv = process.env[o.tokenEnv]?.trim();
  if (fromEnv) return fromEnv;
  const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && bearer) {
    const u = new URL(url);
    u.searchParams.set('audience', o.audience);
    const res = await fetch(u, { headers: { authorization: `bearer ${bearer}` } });
    if (!res.ok) throw usage(`GitHub Actions refused the OIDC token request (HTTP ${res.status}); the job needs \`permissions: id-token: write\``);
    const value = ((await res.json()) as { value?: unknown }).value;
    if (typeof value !== 'string' || !value) throw usage('GitHub Actions answered the OIDC token request without a token');
    return value;
  }
  throw usage(`no CI token: set ${o.tokenEnv} (GitLab: an id_tokens variable), pass --token-file, or run in GitHub Actions with \`permissions: id-token: write\``);
}

/** `exp` of a JWT, read without verifying (the gateway verifies); null when it has none. */
function expiryOf(token: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : null;
  } catch {
    return null;
  }
}

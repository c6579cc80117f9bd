import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord, EventRecord } from '../../events/index.js';
import { validateConfig } from '../../services/config/load.js';
import { DevIssuer, type MintOptions } from '../../services/dev/dev-issuer.js';
import { Gateway } from '../../services/gateway/gateway.js';
import { KubeStandIn } from '../services/kube-standin.js';

/** The kubectl builds of the machine image's Google Cloud SDK (kubectl.1.27 ... kubectl.1.33). */
const SDK_DIRS = ['/usr/lib/google-cloud-sdk/bin', '/root/google-cloud-sdk/bin', '/usr/local/google-cloud-sdk/bin'];

export function kubectlPath(version: string): string {
  const dirs = process.env.TRAILGATE_KUBECTL_DIR ? [process.env.TRAILGATE_KUBECTL_DIR, ...SDK_DIRS] : SDK_DIRS;
  for (const d of dirs) {
    const p = join(d, `kubectl.${version}`);
    if (existsSync(p)) return p;
  }
  throw new Error(`kubectl ${version} is not on this machine (looked in ${dirs.join(', ')}); set TRAILGATE_KUBECTL_DIR to a directory with kubectl.${version}`);
}

/** The API server behind the gateway: the real one when tests/services/kube.sh started it (kube.env), else the stand-in. */
export interface KubeBackend {
  real: boolean;
  url: string;
  caFile: string;
  credential: Record<string, unknown>;
  standIn: KubeStandIn | null;
  stop(): Promise<void>;
}

export async function kubeBackend(dir: string): Promise<KubeBackend> {
  const env = process.env;
  if (env.KUBE_APISERVER_URL && env.KUBE_CA_FILE && env.KUBE_GATEWAY_CERT && env.KUBE_GATEWAY_KEY) {
    return { real: true, url: env.KUBE_APISERVER_URL, caFile: env.KUBE_CA_FILE, credential: { clientCertFile: env.KUBE_GATEWAY_CERT, clientKeyFile: env.KUBE_GATEWAY_KEY }, standIn: null, stop: async () => undefined };
  }
  const standIn = await KubeStandIn.start();
  const caFile = join(dir, 'standin-ca.crt');
  writeFileSync(caFile, standIn.ca);
  return { real: false, url: standIn.url, caFile, credential: { token: 'stand-in-gateway-token' }, standIn, stop: () => standIn.stop() };
}

export interface KubeHarnessOptions {
  rules?: unknown[];
  recordingMode?: 'strict' | 'async';
  /** More Kubernetes targets on the same API server, with their own settings (`{ spdy: 'refuse' }`). */
  targets?: Record<string, Record<string, unknown>>;
}

export class KubeHarness {
  private constructor(
    readonly gateway: Gateway,
    readonly issuer: DevIssuer,
    readonly backend: KubeBackend,
    readonly dir: string,
  ) {}

  static async start(o: KubeHarnessOptions = {}): Promise<KubeHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-kube-'));
    const backend = await kubeBackend(dir);
    const issuer = await DevIssuer.openOrCreate(dir);
    const config = validateConfig({
      dataDir: dir,
      instance: 'test-gw',
      postgres: { listen: { host: '127.0.0.1', port: 0 } },
      kubernetes: { listen: { host: '127.0.0.1', port: 0 } },
      targets: {
        cluster: { kind: 'kubernetes', server: backend.url, caFile: backend.caFile, ...backend.credential },
        'cluster-readonly': { kind: 'kubernetes', server: backend.url, caFile: backend.caFile, ...backend.credential },
        ...Object.fromEntries(Object.entries(o.targets ?? {}).map(([name, t]) => [name, { kind: 'kubernetes', server: backend.url, caFile: backend.caFile, ...backend.credential, ...t }])),
      },
      recording: { mode: o.recordingMode ?? 'strict' },
      policy: {
        rules: o.rules ?? [
          { name: 'deploy', issuers: ['dev'], subject: '**', targets: ['cluster'], rights: ['read', 'write', 'exec', 'attach', 'logs', 'port-forward'], kubeGroups: ['trailgate:jobs'] },
          { name: 'look', issuers: ['dev'], subject: '**', targets: ['cluster-readonly'], rights: ['read'], namespaces: ['default'], kubeGroups: ['trailgate:jobs'] },
        ],
      },
    });
    const gateway = await Gateway.start({ config, extraIssuers: [{ config: { ...issuer.issuerConfig(), tokenReuse: 'any' }, jwks: issuer.jwks() }] });
    return new KubeHarness(gateway, issuer, backend, dir);
  }

  token(o: MintOptions = {}): Promise<string> {
    return this.issuer.mint(o);
  }

  /** A kubeconfig pointing at the gateway with the target in the path and the CI token as the bearer token. */
  kubeconfig(target: string, token: string): string {
    return this.writeKubeconfig(target, `    token: ${token}\n`);
  }

  /** The same with `trailgate kube-credential --token-file` as the exec credential plugin. */
  kubeconfigWithPlugin(target: string, tokenFile: string): string {
    const bin = join(process.cwd(), 'bin', 'trailgate.js');
    return this.writeKubeconfig(
      target,
      `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      interactiveMode: Never\n      command: ${process.execPath}\n      args: [${JSON.stringify(bin)}, kube-credential, --token-file, ${JSON.stringify(tokenFile)}]\n`,
    );
  }

  private writeKubeconfig(target: string, user: string): string {
    const kube = this.gateway.kube!;
    const file = join(this.dir, `kubeconfig-${target}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
- name: gw
  cluster:
    server: https://127.0.0.1:${kube.address.port}/${target}
    certificate-authority: ${kube.certFile}
users:
- name: ci
  user:
${user}contexts:
- name: gw
  context: { cluster: gw, user: ci, namespace: default }
current-context: gw
`,
      { mode: 0o600 },
    );
    return file;
  }

  /** Runs a kubectl build with the kubeconfig; resolves with its exit code and output. */
  /** `stopAfterMs`: for a command that never ends by itself (`logs -f` on a live pod), interrupted like a user would. */
  kubectl(version: string, kubeconfig: string, args: string[], input?: string | Buffer, stopAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(kubectlPath(version), ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        // a cache of discovery shared between runs would hide requests from the recording
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir, KUBECACHEDIR: join(this.dir, `cache-${Math.random().toString(36).slice(2)}`) },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', reject);
      const stop = stopAfterMs ? setTimeout(() => child.kill('SIGINT'), stopAfterMs) : null;
      child.on('close', (code) => {
        if (stop) clearTimeout(stop);
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      child.stdin.on('error', () => undefined);
      if (input !== undefined) child.stdin.end(input);
      else child.stdin.end();
    });
  }

  /** Every record of every kubernetes session, after pending writes reached the log. */
  async sessions(): Promise<Map<string, AuditRecord[]>> {
    await this.gateway.writer.flush();
    const out = new Map<string, AuditRecord[]>();
    for (const id of this.gateway.log.sessionIds()) out.set(id, this.gateway.log.readSession(id));
    return out;
  }

  /** kube.request events of every session, oldest first. */
  async requests(): Promise<EventRecord<'kube.request'>[]> {
    const all: EventRecord<'kube.request'>[] = [];
    for (const records of (await this.sessions()).values()) for (const r of records) if (r.stream === 'events' && r.type === 'kube.request') all.push(r as EventRecord<'kube.request'>);
    return all.sort((a, b) => a.ts.localeCompare(b.ts));
  }

  async stop(): Promise<void> {
    await this.gateway.stop();
    await this.backend.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

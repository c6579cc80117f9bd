import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TrailgateConfig } from '../../config/schema.js';
import { resolveSecret } from '../../config/secrets.js';
import type { KubernetesTargetConfig } from './kube-config.js';

/** A cluster the gateway reaches with its own credential (a token or a client certificate) and a pinned CA. */
export interface KubeEndpoint {
  name: string;
  url: URL;
  /** TLS options for both REST requests (through `agent`) and WebSocket streams. */
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer };
  token?: string;
  agent: https.Agent;
  spdy: 'record' | 'refuse';
  connectTimeoutMs: number;
  /** Bytes of a write's body recorded (targets.<name>.writeBodyBytes). */
  writeBodyBytes: number;
}

/** The configured Kubernetes targets, credentials and CA read once at start. */
export function kubeEndpoints(config: TrailgateConfig): Map<string, KubeEndpoint> {
  const out = new Map<string, KubeEndpoint>();
  for (const [name, t] of Object.entries(config.targets)) {
    if (t.kind === 'kubernetes') out.set(name, kubeEndpoint(name, t));
  }
  return out;
}

function read(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`TG_CONFIG_INVALID: ${key} names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function kubeEndpoint(name: string, t: KubernetesTargetConfig): KubeEndpoint {
  const tls = {
    ca: read(t.caFile, `targets.${name}.caFile`),
    ...(t.clientCertFile ? { cert: read(t.clientCertFile, `targets.${name}.clientCertFile`) } : {}),
    ...(t.clientKeyFile ? { key: read(t.clientKeyFile, `targets.${name}.clientKeyFile`) } : {}),
  };
  const token = resolveSecret(t.token, `targets.${name}.token`);
  return {
    name,
    url: new URL(t.server),
    tls,
    ...(token !== undefined ? { token } : {}),
    // keep-alive: a kubectl run is many small requests; a new TLS handshake each would dominate them
    agent: new https.Agent({ ...tls, keepAlive: true, maxSockets: 64, maxFreeSockets: 16 }),
    spdy: t.spdy,
    connectTimeoutMs: t.connectTimeoutSeconds * 1000,
    writeBodyBytes: t.writeBodyBytes,
  };
}

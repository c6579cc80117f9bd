import { readFileSync } from 'node:fs';
import type { TrailgateConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { TargetEndpoint } from './postgres/backend-connection.js';

/** Turns the configured targets into endpoints, reading each credential once at start. */
export function targetEndpoints(config: TrailgateConfig): Map<string, TargetEndpoint> {
  const out = new Map<string, TargetEndpoint>();
  for (const [name, t] of Object.entries(config.targets)) {
    const password = resolveSecret(t.password, `targets.${name}.password`);
    out.set(name, {
      name,
      host: t.host,
      port: t.port,
      database: t.database,
      user: t.user,
      tls: t.tls,
      sqlcommenter: t.sqlcommenter,
      ...(password !== undefined ? { password } : {}),
      ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    });
  }
  return out;
}

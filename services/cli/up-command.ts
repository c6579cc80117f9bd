import { Gateway } from '../gateway/gateway.js';
import { cliConfig } from './cli-config.js';

export async function runUp(configFile: string | undefined, dev: boolean): Promise<void> {
  const config = cliConfig(configFile);
  const gateway = await Gateway.start({ config, dev });
  const { host, port } = gateway.postgresAddress;
  const lines = [
    `trailgate ${dev ? '(DEVELOPMENT MODE: built-in token issuer and demo database enabled) ' : ''}is up`,
    `  postgres   ${host}:${port}`,
    ...(gateway.ssh ? [`  ssh        ${gateway.ssh.address.host}:${gateway.ssh.address.port} (host key ${gateway.ssh.hostKey.fingerprint}; log in as <target>@host)`] : []),
    `  event log  ${gateway.log.file}`,
    `  targets    ${[...gateway.targets.keys(), ...(gateway.ssh ? [...gateway.ssh.targets.keys()].map((t) => `${t} (ssh)`) : [])].map((t) => (t === 'demo' && dev ? 'demo (in-process PGlite, for trying Trailgate only)' : t)).join(', ') || '(none configured)'}`,
  ];
  if (dev) {
    lines.push('  policy     development rule: any token of the development issuer may do anything on demo');
    lines.push('', 'try it:', `  PGPASSWORD="$(npx trailgate token)" psql "host=${host} port=${port} dbname=demo user=ci sslmode=require" -c 'select * from deployments'`, '  npx trailgate sessions');
  }
  console.log(lines.join('\n'));
  const stop = (signal: string) => {
    console.log(`\n${signal}: closing sessions and the event log`);
    gateway.stop().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`trailgate: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

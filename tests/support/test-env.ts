/** Settings of the real services that tests/run.sh started; a missing one fails the test run, never skips it. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts PostgreSQL and exports it`);
  return value;
}

export interface PostgresService {
  host: string;
  port: number;
  database: string;
  appUser: string;
  appPassword: string;
  superUser: string;
  superPassword: string;
  /** Certificate the test cluster presents; trusted as a CA by verify-full targets. */
  caFile: string;
}

export function postgresService(): PostgresService {
  return {
    host: requiredEnv('TG_PG_HOST'),
    port: Number(requiredEnv('TG_PG_PORT')),
    database: requiredEnv('TG_PG_DB'),
    appUser: requiredEnv('TG_PG_APP_USER'),
    appPassword: requiredEnv('TG_PG_APP_PASSWORD'),
    superUser: requiredEnv('TG_PG_SUPERUSER'),
    superPassword: requiredEnv('TG_PG_SUPERPASSWORD'),
    caFile: requiredEnv('TG_PG_CA_FILE'),
  };
}

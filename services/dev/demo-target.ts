import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { TargetEndpoint } from '../gateway/postgres/backend-connection.js';

/**
 * DEMO ONLY: an in-process PGlite database served over the wire protocol, so that the quick start
 * needs nothing installed. Real targets come from the `targets` section of trailgate.yaml.
 */
export class DemoTarget {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    readonly endpoint: TargetEndpoint,
  ) {}

  static async start(dataDir: string): Promise<DemoTarget> {
    const db = await PGlite.create(join(dataDir, 'demo-pglite'));
    await db.exec(`
      CREATE TABLE IF NOT EXISTS deployments (id serial PRIMARY KEY, service text NOT NULL, version text NOT NULL, deployed_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO deployments (service, version) SELECT 'payments', 'v1.0.0' WHERE NOT EXISTS (SELECT 1 FROM deployments);
    `);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    const [, port] = server.getServerConn().split(':');
    const endpoint: TargetEndpoint = { name: 'demo', host: '127.0.0.1', port: Number(port), database: 'postgres', user: 'postgres', password: 'demo', tls: 'disable' };
    return new DemoTarget(db, server, endpoint);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
  }
}

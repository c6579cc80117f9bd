import type { FastifyInstance } from 'fastify';
import { buildReplayServer, type ReplayServerOptions } from './app.js';

export interface RunningReplay {
  app: FastifyInstance;
  /** http://host:port the server listens on. */
  url: string;
  close(): Promise<void>;
}

/** Builds the replay server and listens where replay.listen says. */
export async function startReplayServer(o: ReplayServerOptions): Promise<RunningReplay> {
  const app = await buildReplayServer(o);
  try {
    await app.listen({ host: o.config.listen.host, port: o.config.listen.port });
  } catch (err) {
    throw Object.assign(new Error(`TG_REPLAY_LISTEN: the replay UI cannot listen on ${o.config.listen.host}:${o.config.listen.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); change replay.listen`), { code: 'TG_REPLAY_LISTEN' });
  }
  const addr = app.server.address();
  const url = addr && typeof addr === 'object' ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : '';
  return { app, url, close: () => app.close() };
}

import type { Consumer } from '../../connectors/consumer/consumer.js';
import { Health } from '../metrics/health.js';

/**
 * A consumer role is ready while each of its consumers can reach its log (asking for the lag is that test:
 * Kafka or the SQLite file) and its sink takes what it is given: a sink that keeps failing makes the role
 * unready with the last error, and ready again once a batch goes through.
 */
export function consumerHealth(role: string, consumers: Consumer[]): Health {
  const health = new Health(role);
  for (const c of consumers) {
    health.check(`log:${c.sink.name}`, async () => {
      await c.lag();
      return null;
    });
    health.check(`sink:${c.sink.name}`, () => {
      const h = c.health();
      if (h.state === 'ok') return null;
      return `${h.state} since ${h.since} (${h.failures} failed attempts): ${h.code}: ${h.reason}`;
    });
  }
  return health;
}

import type { Consumer } from '../../connectors/consumer/consumer.js';
import { Health } from '../metrics/health.js';

/** A consumer role is ready while each of its consumers can reach its log: asking for the lag is that test (Kafka or the SQLite file). */
export function consumerHealth(role: string, consumers: Consumer[]): Health {
  const health = new Health(role);
  for (const c of consumers) {
    health.check(`log:${c.sink.name}`, async () => {
      await c.lag();
      return null;
    });
  }
  return health;
}

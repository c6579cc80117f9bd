import type { Consumer } from '../../connectors/consumer/consumer.js';
import { Health } from '../metrics/health.js';

/** A consumer is ready while it can reach its log: asking the log for the lag is that test (Kafka or the SQLite file). */
export function consumerHealth(role: string, consumer: Consumer): Health {
  return new Health(role).check('log', async () => {
    await consumer.lag();
    return null;
  });
}

import * as z from 'zod';

/** What a gateway does on SIGTERM: stop taking sessions, give open ones a deadline, flush, exit. */
export const ShutdownConfig = z
  .object({
    /** Seconds open sessions may go on after SIGTERM; those still open then are ended and recorded as gateway-shutdown. */
    drainSeconds: z.number().min(0).max(3600).default(30),
    /** Seconds to wait for the Kafka spool to reach Kafka before exiting; what is left stays spooled for the next start. */
    spoolFlushSeconds: z.number().min(0).max(3600).default(10),
  })
  .strict();
export type ShutdownConfig = z.infer<typeof ShutdownConfig>;

import type { SessionContext } from '../../events/index.js';

/** Sessions a reader of the embedded log keeps parsed at most; one that left early is parsed again from its row. */
export const MAX_PARSED_CONTEXTS = 1024;

/**
 * Parsed session contexts (the job's identity claims, ~2 KB each) kept by a reader of the embedded log, so
 * a context is parsed once per session rather than once per record. Bounded: a session leaves when its
 * final signed checkpoint (its last record) is read, and the oldest entry leaves when the bound is
 * reached, for the sessions whose end a reader never sees (a sink of bytes only, a session cut by a crash).
 */
export class SessionContexts {
  private readonly parsed = new Map<string, SessionContext>();

  constructor(private readonly max = MAX_PARSED_CONTEXTS) {}

  get(sessionId: string): SessionContext | undefined {
    return this.parsed.get(sessionId);
  }

  set(sessionId: string, ctx: SessionContext): void {
    // A Map iterates in insertion order: its first key is the entry held longest.
    if (this.parsed.size >= this.max) this.parsed.delete(this.parsed.keys().next().value!);
    this.parsed.set(sessionId, ctx);
  }

  /** The session has nothing more to read. */
  delete(sessionId: string): void {
    this.parsed.delete(sessionId);
  }

  get size(): number {
    return this.parsed.size;
  }
}

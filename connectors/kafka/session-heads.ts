import { existsSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionContext } from '../../events/index.js';
import type { UnsealedSession } from '../embedded-log/embedded-log.js';
import { HEADER_RECORD, HEADER_TYPE, unpackMessages, type KafkaMessage } from './record-codec.js';
import type { Spool } from './spool.js';

/** The chain head of one session as the spool has it. */
export interface SessionHead {
  context: SessionContext;
  lastSeq: number;
  lastHash: string;
  /** Its final signed checkpoint is written. */
  sealed: boolean;
}

interface HeadsFile {
  v: 1;
  /** The heads cover every spool frame before this position. */
  position: number;
  ledgerSeq: number;
  sessions: SessionHead[];
}

const FILE = 'heads.json';

/**
 * The chain heads of a gateway's sessions, folded from the spool's frames in order. The spool deletes
 * delivered segments, so before it does, the heads up to that point are saved beside it; after a crash
 * the saved heads plus every frame still in the spool give the exact head of each open session, and
 * the last ledger entry spooled, without reading Kafka back.
 */
export class SessionHeads {
  private readonly heads = new Map<string, SessionHead>();
  /** Highest ledger entry seq spooled. */
  ledgerSeq = 0;

  private constructor(public position: number) {}

  /** The saved heads of the spool in `dir`, or none (position 0) for a new spool. */
  static load(dir: string): SessionHeads {
    const file = join(dir, FILE);
    if (!existsSync(file)) return new SessionHeads(0);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as HeadsFile;
    const heads = new SessionHeads(saved.position);
    heads.ledgerSeq = saved.ledgerSeq;
    for (const h of saved.sessions) heads.heads.set(h.context.sessionId, h);
    return heads;
  }

  /** A copy to fold further without moving this one. */
  clone(): SessionHeads {
    const copy = new SessionHeads(this.position);
    copy.ledgerSeq = this.ledgerSeq;
    for (const [id, h] of this.heads) copy.heads.set(id, { ...h });
    return copy;
  }

  /**
   * Folds in the messages of frames ending at `end`. Folding a message twice changes nothing. Only
   * the messages that can change a head are parsed: each session's last one, its start (the
   * protocol), signed checkpoints (the seal) and ledger entries; any other would be overwritten by
   * the session's last one (the `tg-type` header says which is which).
   */
  apply(messages: readonly KafkaMessage[], end: number): void {
    const last = new Map<string, number>();
    for (let i = 0; i < messages.length; i++) if (messages[i]!.stream !== 'ledger') last.set(messages[i]!.key, i);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.stream === 'ledger' || last.get(m.key) === i || mayChangeHead(m)) this.applyOne(m);
    }
    if (end > this.position) this.position = end;
  }

  /** Folds every frame of the spool from the current position up to `end`. */
  async advance(spool: Spool, end: number, batchBytes = 4 * 1024 * 1024): Promise<void> {
    while (this.position < end) {
      const frames = await spool.read(this.position, batchBytes);
      if (frames.length === 0) break;
      for (const f of frames) {
        if (f.end > end) return;
        this.apply(unpackMessages(f.payload), f.end);
      }
    }
  }

  /** Saves the heads (durably: the spool deletes segments right after); sealed sessions for which `keep` says no are dropped. */
  async save(dir: string, keep: (sessionId: string) => boolean = () => true): Promise<void> {
    for (const [id, h] of this.heads) if (h.sealed && !keep(id)) this.heads.delete(id);
    const body: HeadsFile = { v: 1, position: this.position, ledgerSeq: this.ledgerSeq, sessions: [...this.heads.values()] };
    const tmp = join(dir, `${FILE}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(body));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, FILE));
  }

  unsealed(instance: string): UnsealedSession[] {
    return [...this.heads.values()].filter((h) => !h.sealed && h.context.instance === instance).map((h) => ({ context: h.context, lastSeq: h.lastSeq, lastHash: h.lastHash }));
  }

  sessionIds(): string[] {
    return [...this.heads.keys()];
  }

  private applyOne(m: KafkaMessage): void {
    if (m.stream === 'ledger') {
      const seq = (JSON.parse(m.value.toString()) as { seq: number }).seq;
      if (seq > this.ledgerSeq) this.ledgerSeq = seq;
      return;
    }
    const r = JSON.parse(m.stream === 'bytes' ? m.headers[HEADER_RECORD]! : m.value.toString()) as {
      sessionId: string;
      seq: number;
      hash: string;
      type: string;
      instance: string;
      target: SessionContext['target'];
      identity: SessionContext['identity'];
      client: SessionContext['client'];
      data?: { protocol?: SessionContext['protocol']; final?: boolean };
    };
    const known = this.heads.get(r.sessionId);
    if (known && known.lastSeq >= r.seq) return;
    const protocol = (r.type === 'session.started' ? r.data?.protocol : undefined) ?? known?.context.protocol ?? r.target?.kind ?? 'postgres';
    this.heads.set(r.sessionId, {
      context: { sessionId: r.sessionId, instance: r.instance, protocol, target: r.target, identity: r.identity, client: r.client },
      lastSeq: r.seq,
      lastHash: r.hash,
      sealed: (known?.sealed ?? false) || (r.type === 'checkpoint.signed' && r.data?.final === true),
    });
  }
}

/** Records besides a session's last that a head needs: its start and its signed checkpoints, or any record whose type is not said. */
function mayChangeHead(m: KafkaMessage): boolean {
  const type = m.headers[HEADER_TYPE];
  return type === undefined || type === 'session.started' || type === 'checkpoint.signed';
}

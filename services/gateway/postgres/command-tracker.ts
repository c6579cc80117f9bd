import type { CommandCompletedData } from '../../../events/index.js';
import { Be } from './protocol.js';
import { BufferReader } from './buffer-reader.js';
import { decodeCommandTag, decodeErrorFields, rowsFromTag, type ServerError } from './backend-messages.js';

export type PendingKind = 'query' | 'parse' | 'bind' | 'describe' | 'close' | 'execute' | 'sync' | 'function';

/** A command the client started and the target has not finished answering. */
export interface ActiveCommand {
  seq: number;
  startedAt: bigint;
  tags: string[];
  dataRows: number;
  copyBytes: number;
  error?: ServerError;
}

export interface Denial {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** One frontend message that the target will answer, in the order it will answer. */
export interface Pending {
  kind: PendingKind;
  command?: ActiveCommand;
  /** Set when the gateway substituted the message: the target's error is replaced by this. */
  denial?: Denial;
}

export interface TrackerEvents {
  completed(command: ActiveCommand, result: Omit<CommandCompletedData, 'commandSeq'>): void;
  notification(body: Buffer): void;
  /** Lets the session swap a target error for the gateway's own (denials). */
  replaceError(denial: Denial): Buffer;
  /** A setting the target reports as changed (ParameterStatus); the session watches its read-only mode. */
  parameterStatus?(name: string, value: string): void;
}

/**
 * Follows the target's answers against what the client asked, so that each command gets its
 * outcome, rows and SQLSTATE, in the simple and the extended protocol alike.
 */
export class CommandTracker {
  private readonly queue: Pending[] = [];
  private head = 0;
  /** The error of a failed Parse or Bind, waiting for the Execute it belongs to. */
  private batchError: ServerError | undefined;
  status: 'I' | 'T' | 'E' = 'I';

  constructor(private readonly events: TrackerEvents) {}

  expect(pending: Pending): void {
    this.queue.push(pending);
  }

  get outstanding(): number {
    return this.queue.length - this.head;
  }

  /** Whether the target will answer everything outstanding on its own (nothing waits for a later Sync). */
  get endsAtSyncPoint(): boolean {
    const last = this.queue[this.queue.length - 1];
    return this.outstanding === 0 || (last !== undefined && isSyncPoint(last.kind));
  }

  /** Open commands when the session ends; they never got an answer. */
  abandon(): ActiveCommand[] {
    const open = this.queue.slice(this.head).flatMap((p) => (p.command ? [p.command] : []));
    this.queue.length = 0;
    this.head = 0;
    return open;
  }

  /** The gateway refused the answer being read (result masking): the command is recorded as failed with this. */
  failCurrent(error: ServerError): void {
    const cmd = this.current()?.command;
    if (cmd) cmd.error = error;
  }

  /** COPY FROM STDIN data the client sends counts toward the running command. */
  clientCopyData(bodyLength: number): void {
    const cmd = this.current()?.command;
    if (cmd) cmd.copyBytes += bodyLength;
  }

  streamed(type: number, bodyLength: number): void {
    const cmd = this.current()?.command;
    if (!cmd) return;
    if (type === Be.DataRow) cmd.dataRows++;
    else if (type === Be.CopyData) cmd.copyBytes += bodyLength;
  }

  /** Returns a replacement for the message when the gateway must answer instead of the target. */
  message(type: number, body: Buffer): Buffer | undefined {
    const head = this.current();
    switch (type) {
      case Be.ReadyForQuery: {
        this.status = String.fromCharCode(body[0] ?? 0x49) as 'I' | 'T' | 'E';
        // Everything before the sync point has been answered, or was skipped after an error.
        this.skipToSync();
        this.batchError = undefined;
        const done = this.shift();
        if (done?.command && (done.kind === 'query' || done.kind === 'function')) this.finish(done);
        return undefined;
      }
      case Be.CommandComplete: {
        if (!head?.command) return undefined;
        head.command.tags.push(decodeCommandTag(body));
        if (head.kind === 'execute') this.finish(this.shift()!);
        return undefined;
      }
      case Be.EmptyQueryResponse:
        if (head?.kind === 'execute') this.finish(this.shift()!);
        return undefined;
      case Be.PortalSuspended:
        if (head?.kind === 'execute') this.finish(this.shift()!, 'suspended');
        return undefined;
      case Be.ParseComplete:
      case Be.BindComplete:
      case Be.CloseComplete:
        this.shift();
        return undefined;
      case Be.RowDescription:
      case Be.NoData:
        if (head?.kind === 'describe') this.shift();
        return undefined;
      case Be.ErrorResponse:
        return this.error(body);
      case Be.NotificationResponse:
        this.events.notification(body);
        return undefined;
      case Be.ParameterStatus:
        if (this.events.parameterStatus) {
          const r = new BufferReader(body);
          this.events.parameterStatus(r.cstring(), r.cstring());
        }
        return undefined;
      default:
        return undefined;
    }
  }

  private error(body: Buffer): Buffer | undefined {
    const head = this.current();
    if (!head) return undefined;
    const err = decodeErrorFields(body);
    const denial = head.denial;
    if (head.command) head.command.error = denial ? { severity: 'ERROR', sqlstate: denial.sqlstate, message: denial.message } : err;
    if (head.kind !== 'query' && head.kind !== 'function' && head.kind !== 'sync') {
      // The target skips every extended-protocol message up to the next Sync after an error.
      const failed = this.shift()!;
      if (failed.command) this.finish(failed);
      // A failed Parse or Bind is the failure of the Execute that follows it.
      else this.batchError = head.command?.error ?? (denial ? { severity: 'ERROR', sqlstate: denial.sqlstate, message: denial.message } : err);
      this.skipToSync();
    }
    return denial ? this.events.replaceError(denial) : undefined;
  }

  /** Completes the commands the target skipped after an error; some may arrive after the error did. */
  private skipToSync(): void {
    while (this.current() && !isSyncPoint(this.current()!.kind)) {
      const skipped = this.shift()!;
      if (!skipped.command) continue;
      skipped.command.error = this.batchError ?? { severity: 'ERROR', sqlstate: '', message: 'skipped: an earlier message in the same batch failed' };
      this.batchError = undefined;
      this.finish(skipped);
    }
  }

  private finish(p: Pending, suspended?: 'suspended'): void {
    const cmd = p.command!;
    const tagRows = cmd.tags.reduce((n, t) => n + rowsFromTag(t), 0);
    const durationMs = Number(process.hrtime.bigint() - cmd.startedAt) / 1e6;
    const err = cmd.error;
    this.events.completed(cmd, {
      outcome: p.denial ? 'denied' : err ? 'error' : suspended ? 'suspended' : 'ok',
      durationMs: Math.round(durationMs * 1000) / 1000,
      tags: cmd.tags,
      rows: cmd.tags.length ? tagRows : cmd.dataRows,
      ...(cmd.copyBytes ? { copyBytes: cmd.copyBytes } : {}),
      ...(err ? { sqlstate: err.sqlstate, error: err.message } : {}),
    });
  }

  private current(): Pending | undefined {
    return this.queue[this.head];
  }

  private shift(): Pending | undefined {
    const p = this.queue[this.head];
    if (!p) return undefined;
    this.head++;
    // Compact now and then so a long session does not keep every answered message.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return p;
  }
}

function isSyncPoint(kind: PendingKind): boolean {
  return kind === 'sync' || kind === 'query' || kind === 'function';
}

import { CLOSE, ERROR, readExitStatus, readResize, RESIZE, STDERR, STDIN, STDOUT } from './channel-protocol.js';
import type { KubeSession } from './kube-session.js';
import type { StreamPlan } from './stream-relay.js';

/** An exec or attach as the session's terminal recording: the command, output, resizes and exit status. */
export class ExecRecording {
  private commandSeq = 0;
  private readonly startedAt = process.hrtime.bigint();
  private readonly tty: boolean;
  private terminal = false;
  private exit: { exitStatus: number | null; error?: string } | null = null;

  constructor(
    private readonly session: KubeSession,
    private readonly plan: StreamPlan,
    private readonly subprotocol: string,
  ) {
    this.tty = plan.query.get('tty') === 'true' || plan.query.get('tty') === '1';
  }

  start(): void {
    // The command.started of this stream was recorded (and, when strict, made durable) before the upgrade.
    this.commandSeq = this.session.execSeq ?? 0;
  }

  /** One channel's data (a WebSocket message after its channel byte, or an SPDY stream's data), recorded before it is relayed. */
  channel(toClient: boolean, channel: number, payload: Buffer): void {
    const r = this.session.recorder;
    if (toClient) {
      if (channel === STDOUT || channel === STDERR) {
        if (payload.length === 0) return;
        if (this.tty && !this.terminal) this.openTerminal(80, 24);
        r.bytes('server', payload, 0, { ...(channel === STDERR ? { stderr: true } : {}), ...(this.tty ? { timed: true } : {}) });
      } else if (channel === ERROR && payload.length > 0) {
        this.exit = readExitStatus(payload, this.subprotocol);
      }
      return;
    }
    if (channel === RESIZE) {
      const size = readResize(payload);
      if (!size) return;
      if (!this.terminal && this.tty) this.openTerminal(size.cols, size.rows);
      else if (this.terminal) {
        r.closeChunks();
        r.event('terminal.resized', { channel: 0, cols: size.cols, rows: size.rows });
      }
    } else if (channel === STDIN && this.plan.recordStdin && payload.length > 0) {
      r.bytes('client', payload, 0);
    } else if (channel === CLOSE) {
      // v5: the client closed its stdin; nothing to record beyond the fact that input ended
    }
  }

  private openTerminal(cols: number, rows: number): void {
    this.terminal = true;
    this.session.recorder.closeChunks();
    this.session.recorder.event('terminal.opened', { channel: 0, term: 'kubernetes', cols, rows });
  }

  finish(error?: string): void {
    const r = this.session.recorder;
    if (this.session.ended) return;
    r.closeChunks();
    const exitStatus = this.exit?.exitStatus ?? undefined;
    const failure = error ?? this.exit?.error;
    r.event('command.completed', {
      commandSeq: this.commandSeq,
      outcome: failure || exitStatus === undefined ? 'error' : 'ok',
      durationMs: Number(process.hrtime.bigint() - this.startedAt) / 1e6,
      tags: [],
      rows: 0,
      channel: 0,
      ...(exitStatus !== undefined && exitStatus !== null ? { exitStatus } : {}),
      ...(failure ? { error: failure } : exitStatus === undefined ? { error: 'the stream ended without an exit status' } : {}),
    });
  }
}

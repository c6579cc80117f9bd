import type net from 'node:net';
import { serialize } from 'pg-protocol';
import type { CommandStartedData, EventDataByType, EventType, ParameterValue, SessionEndedData, StatementDecision } from '../../../events/index.js';
import { redactedCommand, type TrailRedactor } from '../../masking/detectors/trail-redactor.js';
import { LogUnwritableError } from '../recorder/log-unwritable.js';
import type { SessionRecorder } from '../recorder/session-recorder.js';
import { BackendFramer } from './backend-framer.js';
import { ClientInbox } from './client-inbox.js';
import { CoalescingWriter } from './coalescing-writer.js';
import { decodeNotification } from './backend-messages.js';
import { errorResponse, noticeResponse } from './backend-writer.js';
import type { Hold } from '../../approvals/approval-desk.js';
import { answerOf, type StatementApprovals } from '../../approvals/statement-approvals.js';
import { ResultMasker } from './result-masker.js';
import { CommandTracker, type ActiveCommand, type Denial, type Pending } from './command-tracker.js';
import { FrontendFramer, type FrontendMessage } from './frontend-framer.js';
import { decodeBind, decodeDescribeOrClose, decodeExecute, decodeFunctionCall, decodeParse, decodeQuery, type ParseMessage } from './frontend-messages.js';
import { PrivateReply, privateQueryText, type PrivateResult } from './private-query.js';
import { recordedClientBytes, recordedClientMessage } from './recorded-client-bytes.js';
import { Fe, ProtocolError, SqlState } from './protocol.js';
import type { RunTag } from './run-tag.js';
import { withComment } from './sqlcommenter.js';
import type { GateContext, GatedStatement, GateVerdict, StatementGate } from './statement-gate.js';

/** What the target runs in place of a denied statement: it fails at parse time and has no effect. */
const DENIED_STATEMENT = 'TRAILGATE_STATEMENT_DENIED';

export interface RelayOptions {
  client: net.Socket;
  target: net.Socket;
  framer: FrontendFramer;
  recorder: SessionRecorder;
  gate: StatementGate;
  gateContext: GateContext;
  /** sqlcommenter comment appended to statements toward the target, or empty. */
  statementComment: string;
  /** Keeps the run tag in front of any application_name the client sets. */
  runTag?: RunTag;
  /** `strict`: a command reaches the target only once its event is on disk. */
  recordingMode: 'strict' | 'async';
  /**
   * Settings the gateway gave the backend and watches (ParameterStatus): a read-only session whose backend
   * reports default_transaction_read_only off, or a session without `admin` whose backend reports another
   * session_authorization or superuser, is ended before another statement reaches the target.
   */
  guard?: { readOnly: boolean; authorization: boolean };
  /** Forward a statement only once the target has answered everything before it (read-only sessions that run code). */
  oneAtATime?: boolean;
  /** The approval rules of this target; absent when none names it (nothing is checked). */
  approvals?: StatementApprovals;
  /** The client's side as recorded (text, parameters, bytes) with detector hits masked (targets.<name>.masking.trail). */
  trail?: TrailRedactor | null;
}

interface PreparedStatement {
  text: string;
  decision?: StatementDecision;
  parameterTypes: number[];
}

interface Portal {
  statement: string;
  parameters: ParameterValue[];
}

/**
 * Relays one authenticated session: every client message is framed, recorded and passed through the
 * gate before it reaches the target; every target message is framed and tracked on its way back.
 */
export class RelaySession {
  private readonly tracker: CommandTracker;
  private readonly backendFramer: BackendFramer;
  /** Rewrites result rows of masked columns (targets.<name>.masking); null when the session sees raw data. */
  private readonly masker: ResultMasker | null;
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();
  /** The client's pipelined messages; bounded by pausing the client socket. */
  readonly inbox: ClientInbox;
  /** Toward the client: one write per turn of the event loop. */
  private readonly clientWriter: CoalescingWriter;
  private busy = false;
  private ended = false;
  private commands = 0;
  /** The gateway's own query on the backend, while its answer is being read. */
  private privateReply: PrivateReply | null = null;
  private answeredWaiters: (() => void)[] = [];
  /** Settings the backend reported at startup, to compare later reports with. */
  private readonly startupSettings = new Map<string, string>();
  /** The statement waiting for approval, if any. */
  private held: Hold | null = null;
  private resolveEnded!: () => void;
  readonly done: Promise<void> = new Promise((resolve) => (this.resolveEnded = resolve));

  constructor(private readonly o: RelayOptions) {
    this.tracker = new CommandTracker({
      completed: (cmd, result) => {
        const masking = this.masker?.takeCounts();
        // The target's error may quote a value of the statement ("invalid input syntax ... '4111...'").
        const error = result.error && o.trail ? { error: o.trail.text(result.error, {}) } : {};
        o.recorder.event('command.completed', { commandSeq: cmd.seq, ...result, ...error, ...(masking ? { masking } : {}) });
      },
      notification: (body) => o.recorder.event('notification.received', decodeNotification(body)),
      replaceError: (denial) => errorResponse({ severity: 'ERROR', ...denial }),
      parameterStatus: (name, value) => this.settingReported(name, value),
    });
    const masking = o.gateContext.masking;
    this.masker = masking && !masking.exempt ? new ResultMasker(this.tracker, masking) : null;
    this.backendFramer = new BackendFramer(this.masker ?? this.tracker);
    this.inbox = new ClientInbox(o.client, () => !o.target.writableNeedDrain);
    this.clientWriter = new CoalescingWriter(o.client);
  }

  /** ParameterStatus values the target sent at startup (the guard compares later reports with them). */
  noteStartupSettings(parameters: readonly [string, string][]): void {
    for (const [k, v] of parameters) this.startupSettings.set(k, v);
  }

  start(): void {
    const { client, target } = this.o;
    this.o.gateContext.session?.attach((sql) => this.privateQuery(sql));
    this.o.gateContext.masking?.attach((sql) => this.privateQuery(sql));
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    target.on('data', (chunk: Buffer) => this.fromTarget(chunk));
    client.on('drain', () => target.resume());
    target.on('drain', () => client.resume());
    client.on('close', () => this.end('client-disconnected'));
    target.on('close', () => this.end('target-disconnected'));
    client.on('error', () => this.end('client-disconnected'));
    target.on('error', (err) => this.end('target-disconnected', err.message));
    client.resume();
    target.resume();
    // Messages the client pipelined behind its password arrived before the relay started.
    const early = this.o.framer.drain();
    if (early.length) this.fromClient(early);
  }

  private fromClient(chunk: Buffer): void {
    if (this.ended) return;
    const trail = this.o.trail;
    if (chunk.length) {
      // With a trail scan, bytes are recorded per complete message, once the detectors have seen all of it.
      if (!trail) this.o.recorder.bytes('client', chunk);
      this.o.framer.push(chunk);
    }
    let messages: FrontendMessage[];
    try {
      messages = this.o.framer.messages();
    } catch (err) {
      this.recordUnframed();
      this.protocolFailure(err as Error);
      return;
    }
    if (messages.length === 0) return;
    if (trail) for (const m of messages) this.o.recorder.bytes('client', recordedClientMessage(m, trail));
    this.inbox.push(messages);
    if (!this.busy) void this.pump();
  }

  /** Handles queued client messages in order; a held statement or a durable write pauses the queue. */
  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (this.inbox.length && !this.ended) {
        const batch = this.inbox.take();
        const out: Buffer[] = [];
        let recorded = false;
        for (let i = 0; i < batch.length; i++) {
          const msg = batch[i]!;
          if (this.o.oneAtATime && STARTS_WORK.has(msg.type) && this.tracker.outstanding > 0 && this.tracker.endsAtSyncPoint) {
            // What came before may have changed the session (the guard ends it): let it answer first.
            this.o.client.pause();
            await this.send(out, recorded);
            out.length = 0;
            recorded = false;
            await this.whenAnswered();
            this.o.client.resume();
            if (this.ended) return;
          }
          const statement = this.statementOf(msg);
          let verdict = statement ? this.o.gate.check(statement, this.o.gateContext) : FORWARD;
          let paused = false;
          if (verdict instanceof Promise) {
            // Hold: stop reading from the client until the decision is in.
            this.o.client.pause();
            paused = true;
            await this.send(out, recorded);
            out.length = 0;
            recorded = false;
            verdict = await verdict;
          }
          let approvalId: string | undefined;
          if (this.o.approvals && verdict.action === 'forward' && (msg.type === Fe.Query || msg.type === Fe.Execute)) {
            const pending = this.approvalCheck(msg, statement, verdict);
            const check = pending ? await pending : null;
            if (this.ended) return;
            if (check && 'granted' in check) approvalId = check.granted;
            else if (check && 'refuse' in check) verdict = { action: 'deny', ...check.refuse, ...(verdict.decision ? { decision: verdict.decision } : {}) };
            else if (check) {
              // Held for people: what came before goes on; the client keeps being read, so a disconnect is seen.
              if (paused) this.o.client.resume();
              paused = false;
              await this.send(out, recorded);
              out.length = 0;
              recorded = false;
              this.held = check.hold;
              const outcome = await check.hold.outcome;
              this.held = null;
              if (this.ended) return;
              const answer = answerOf(outcome);
              if (answer) verdict = { action: 'deny', ...answer, ...(verdict.decision ? { decision: verdict.decision } : {}) };
              else approvalId = outcome.approvalId;
            }
          }
          const forward = this.handle(msg, verdict, statement, approvalId);
          if (paused) this.o.client.resume();
          if (this.ended) return;
          if (forward) appendSlice(out, forward);
          if (isCommand(msg.type)) recorded = true;
          if (msg.type === Fe.Terminate) break;
        }
        await this.send(out, recorded);
        this.inbox.settled();
      }
    } catch (err) {
      this.protocolFailure(err as Error);
    } finally {
      this.busy = false;
    }
  }

  private async send(out: Buffer[], waitForDisk: boolean): Promise<void> {
    if (out.length === 0) return;
    if (waitForDisk && this.o.recordingMode === 'strict') await this.o.recorder.durable();
    else if (waitForDisk) {
      // Async recording waits for nothing, but a session the gateway could not record runs nothing.
      const refused = this.o.recorder.refusal();
      if (refused) throw refused;
    }
    if (this.ended) return;
    const target = this.o.target;
    let flushed = true;
    if (out.length === 1) flushed = target.write(out[0]!);
    else {
      target.cork();
      for (const b of out) flushed = target.write(b);
      target.uncork();
    }
    if (!flushed) this.o.client.pause();
  }

  /** Decodes the messages that carry a statement, once, for the gate and for the record. */
  private statementOf(msg: FrontendMessage): DecodedStatement | null {
    switch (msg.type) {
      case Fe.Query:
        return { protocol: 'simple', text: decodeQuery(msg.body) };
      case Fe.Parse: {
        const parse = decodeParse(msg.body);
        return { protocol: 'extended', text: parse.text, statementName: parse.name, parse };
      }
      case Fe.FunctionCall: {
        const { oid } = decodeFunctionCall(msg.body);
        return { protocol: 'function', text: `function call oid ${oid}`, functionOid: oid };
      }
      default:
        return null;
    }
  }

  /** Whether an approval rule holds this Query or Execute (only called when the target has rules). */
  private approvalCheck(msg: FrontendMessage, statement: DecodedStatement | null, verdict: GateVerdict) {
    const inTransaction = this.tracker.status !== 'I';
    const notice = (text: string) => this.toClient([noticeResponse(text)]);
    if (msg.type === Fe.Query) return this.o.approvals!.check({ text: statement!.text, needs: verdict.decision?.needs ?? [], inTransaction }, notice);
    const portal = this.portals.get(decodeExecute(msg.body).portal);
    const stmt = portal ? this.statements.get(portal.statement) : undefined;
    if (!stmt) return null;
    return this.o.approvals!.check({ text: stmt.text, needs: stmt.decision?.needs ?? [], parameters: portal!.parameters, inTransaction }, notice);
  }

  /** The client's CancelRequest: a statement waiting for approval is withdrawn (true) instead of cancelled on the target. */
  withdrawHeld(): boolean {
    if (!this.held) return false;
    this.held.withdraw();
    return true;
  }

  /** Records the message, tells the tracker what answer to expect, and returns what to forward. */
  private handle(msg: FrontendMessage, verdict: GateVerdict, statement: DecodedStatement | null, approvalId?: string): Buffer | null {
    const denial: Denial | undefined = verdict.action === 'deny' ? denialOf(verdict) : undefined;
    const decision = verdict.decision ? { decision: verdict.decision } : {};
    const approved = approvalId ? { approvalId } : {};
    switch (msg.type) {
      case Fe.Query: {
        const command = this.startCommand({ protocol: 'simple', text: statement!.text, ...decision, ...approved });
        this.expect({ kind: 'query', command, ...(denial ? { denial } : {}) });
        this.masker?.query(statement!.text);
        if (denial) return serialize.query(DENIED_STATEMENT);
        const tagged = this.toTarget(statement!.text);
        return tagged === statement!.text ? msg.raw : serialize.query(tagged);
      }
      case Fe.Parse: {
        const p = statement!.parse!;
        if (denial) {
          const command = this.startCommand({ protocol: 'extended', text: p.text, statementName: p.name, parameterTypes: p.parameterTypes, ...decision });
          this.expect({ kind: 'parse', command, denial });
          return serialize.parse({ name: p.name, text: DENIED_STATEMENT, types: [] });
        }
        this.statements.set(p.name, { text: p.text, parameterTypes: p.parameterTypes, ...decision });
        this.expect({ kind: 'parse' });
        const tagged = this.toTarget(p.text);
        return tagged === p.text ? msg.raw : serialize.parse({ name: p.name, text: tagged, types: p.parameterTypes });
      }
      case Fe.Bind: {
        const b = decodeBind(msg.body);
        this.portals.set(b.portal, { statement: b.statement, parameters: b.parameters });
        this.expect({ kind: 'bind' });
        return msg.raw;
      }
      case Fe.Execute: {
        const e = decodeExecute(msg.body);
        const portal = this.portals.get(e.portal);
        const stmt = portal ? this.statements.get(portal.statement) : undefined;
        const command = this.startCommand({
          protocol: 'extended',
          text: stmt?.text ?? '',
          ...(portal?.statement ? { statementName: portal.statement } : {}),
          ...(e.portal ? { portal: e.portal } : {}),
          ...(portal?.parameters.length ? { parameters: portal.parameters } : {}),
          ...(stmt?.parameterTypes.length ? { parameterTypes: stmt.parameterTypes } : {}),
          ...(stmt?.decision ? { decision: stmt.decision } : {}),
          ...approved,
        });
        if (denial) {
          // Refused after its Parse and Bind went through: a Parse that fails in the target stands in, so the
          // batch (and any open transaction) fails as PostgreSQL's own error would fail it.
          this.expect({ kind: 'parse', command, denial });
          return serialize.parse({ name: '', text: DENIED_STATEMENT, types: [] });
        }
        this.expect({ kind: 'execute', command });
        // Masking: the gateway describes the portal itself, so each row's columns have known origins.
        return this.masker ? Buffer.concat([this.masker.execute(e.portal, stmt?.text ?? ''), msg.raw]) : msg.raw;
      }
      case Fe.Describe:
        decodeDescribeOrClose(msg.body);
        this.expect({ kind: 'describe' });
        this.masker?.clientDescribe();
        return msg.raw;
      case Fe.Close: {
        const c = decodeDescribeOrClose(msg.body);
        if (c.kind === 'S') {
          this.statements.delete(c.name);
          this.o.gateContext.session?.prepared.delete(c.name);
        }
        else this.portals.delete(c.name);
        this.expect({ kind: 'close' });
        return msg.raw;
      }
      case Fe.Sync:
        // The unnamed portal and statement live until the next Parse/Bind; named ones until Close.
        this.expect({ kind: 'sync' });
        this.masker?.sync();
        return msg.raw;
      case Fe.FunctionCall: {
        const command = this.startCommand({ protocol: 'function', text: statement!.text, functionOid: statement!.functionOid!, ...decision });
        this.expect({ kind: 'function', command, ...(denial ? { denial } : {}) });
        this.masker?.sync();
        return denial ? serialize.query(DENIED_STATEMENT) : msg.raw;
      }
      case Fe.CopyData:
        this.tracker.clientCopyData(msg.body.length);
        return msg.raw;
      case Fe.Flush:
      case Fe.CopyDone:
      case Fe.CopyFail:
        return msg.raw;
      case Fe.Terminate:
        this.o.target.write(msg.raw);
        this.end('client-terminated');
        return null;
      default:
        throw new ProtocolError('TG_PG_UNEXPECTED_MESSAGE', `unexpected client message type '${String.fromCharCode(msg.type)}' after authentication`);
    }
  }

  /** The statement text as the target gets it: run tag kept, sqlcommenter comment added. */
  private toTarget(sql: string): string {
    return withComment(this.o.runTag ? this.o.runTag.rewrite(sql) : sql, this.o.statementComment);
  }

  private startCommand(data: CommandStartedData): ActiveCommand {
    this.commands++;
    const seq = this.o.recorder.event('command.started', this.o.trail ? redactedCommand(data, this.o.trail) : data);
    return { seq, startedAt: process.hrtime.bigint(), tags: [], dataRows: 0, copyBytes: 0 };
  }

  private expect(p: Pending): void {
    this.tracker.expect(p);
  }

  /** Resolves once the target has answered every message forwarded so far (or the session ended). */
  private whenAnswered(): Promise<void> {
    if (this.tracker.outstanding === 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.answeredWaiters.push(resolve));
  }

  private wakeAnswered(): void {
    if (this.tracker.outstanding > 0 && !this.ended) return;
    const waiters = this.answeredWaiters;
    this.answeredWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Runs the gateway's own query (the catalogue) on the backend between the client's statements, and keeps its
   * answer from the client. Null when it cannot run now: mid-batch, in a failed transaction, or it failed.
   */
  private async privateQuery(sql: string): Promise<(string | null)[][] | null> {
    if (this.ended || !this.tracker.endsAtSyncPoint) return null;
    await this.whenAnswered();
    const status = this.tracker.status;
    if (this.ended || status === 'E' || this.privateReply) return null;
    const first = await this.exchange(privateQueryText(sql, status));
    if (first.status === 'E' && status === 'T' && !this.ended) {
      // The query failed inside the client's transaction: undo it so the client's transaction goes on.
      await this.exchange('rollback to savepoint trailgate_private; release savepoint trailgate_private');
    }
    return first.result.error ? null : first.result.rows;
  }

  private exchange(text: string): Promise<{ result: PrivateResult; status: 'I' | 'T' | 'E' }> {
    return new Promise((resolve) => {
      this.privateReply = new PrivateReply(
        (result, status) => {
          this.privateReply = null;
          this.tracker.status = status;
          resolve({ result, status });
        },
        (_type, message) => {
          this.toClient(this.backendFramer.push(message));
          this.finishTrip();
          if (this.ended) resolve({ result: { rows: [], error: 'session ended' }, status: 'E' });
        },
      );
      this.o.target.write(serialize.query(text));
    });
  }

  /** A setting the backend reports as changed: ends the session when it undoes what the gateway set. */
  private settingReported(name: string, value: string): void {
    const guard = this.o.guard;
    if (!guard || this.ended) return;
    let why: string | undefined;
    if (guard.readOnly && name === 'default_transaction_read_only' && value !== 'on') {
      why = `the target reports default_transaction_read_only '${value}' in a read-only session: code the session ran turned it off`;
    } else if (guard.authorization && (name === 'session_authorization' || name === 'is_superuser') && this.startupSettings.has(name) && this.startupSettings.get(name) !== value) {
      why = `the target reports ${name} '${value}' (was '${this.startupSettings.get(name)}') in a session without the 'admin' right`;
    }
    if (why) this.trip ??= why;
  }

  /** Ends a session whose guard tripped: nothing more reaches the target, the client and the record are told why. */
  private finishTrip(): void {
    if (!this.trip || this.ended) return;
    this.pendingFatal = errorResponse({
      severity: 'FATAL',
      sqlstate: SqlState.InsufficientPrivilege,
      message: `the gateway ended this session: ${this.trip} [TG_PG_ENFORCEMENT_UNDONE]`,
    });
    this.end('policy-denied', `TG_PG_ENFORCEMENT_UNDONE: ${this.trip}`);
  }

  private trip: string | null = null;
  private pendingFatal: Buffer | null = null;

  private toClient(out: Buffer[]): void {
    let flushed = true;
    for (const b of out) {
      if (b.length === 0) continue; // a message the gateway kept from the client
      this.o.recorder.bytes('server', b);
      flushed = this.clientWriter.write(b);
    }
    if (!flushed) this.o.target.pause();
  }

  private fromTarget(chunk: Buffer): void {
    if (this.privateReply) {
      let rest: Buffer | null;
      try {
        rest = this.privateReply.push(chunk);
      } catch (err) {
        this.end('target-disconnected', `unreadable target message: ${(err as Error).message}`);
        return;
      }
      if (!rest || rest.length === 0) return;
      chunk = rest;
    }
    let out: Buffer[];
    try {
      out = this.backendFramer.push(chunk);
    } catch (err) {
      this.end('target-disconnected', `unreadable target message: ${(err as Error).message}`);
      return;
    }
    this.toClient(out);
    this.finishTrip();
    this.wakeAnswered();
  }

  /** Client bytes the framer still holds (a cut-off or malformed message): recorded, scanned, when the trail scans. */
  private recordUnframed(): void {
    const trail = this.o.trail;
    if (!trail) return;
    const rest = this.o.framer.drain();
    if (rest.length) this.o.recorder.bytes('client', recordedClientBytes(rest, trail));
  }

  /** The log cannot take this session's records any more: it ends with the FATAL that says why (53100 or 58030). */
  refuseRecording(err: LogUnwritableError): void {
    this.protocolFailure(err);
  }

  /** A malformed client message ends this connection with an error the client can read. */
  private protocolFailure(err: Error): void {
    if (this.ended) return;
    if (err instanceof LogUnwritableError) {
      // Strict recording: the statement was not sent, because its record could not be made durable.
      const reply = errorResponse({ severity: 'FATAL', sqlstate: err.diskFull ? SqlState.DiskFull : SqlState.IoError, message: err.message });
      this.o.recorder.bytes('server', reply);
      this.o.client.end(reply);
      this.end('recording-unavailable', err.message);
      return;
    }
    const pe = err instanceof ProtocolError ? err : new ProtocolError('TG_PG_INTERNAL', err.message, SqlState.InternalError);
    const reply = errorResponse({ severity: 'FATAL', sqlstate: pe.sqlstate, message: `${pe.message} [${pe.code}]` });
    this.o.recorder.bytes('server', reply);
    this.o.client.end(reply);
    this.end('protocol-error', `${pe.code}: ${pe.message}`);
  }

  /** Records an event about the gateway's state (a spool watermark) in this session, while it is open. */
  note<T extends EventType>(type: T, data: EventDataByType[T]): void {
    if (!this.ended) this.o.recorder.event(type, data);
  }

  end(reason: SessionEndedData['reason'], detail?: string): void {
    if (this.ended) return;
    this.ended = true;
    const { recorder } = this.o;
    this.held?.abandon(reason === 'client-disconnected' ? undefined : `the session ended (${reason}) while the statement was held`);
    this.recordUnframed();
    for (const cmd of this.tracker.abandon()) {
      recorder.event('command.completed', { commandSeq: cmd.seq, outcome: 'error', durationMs: 0, tags: cmd.tags, rows: cmd.dataRows, error: `session ended before the target answered (${reason})` });
    }
    // A shutdown ends the session as PostgreSQL's own shutdown would, so drivers report and retry it as one.
    const fatal = this.pendingFatal ?? (reason === 'gateway-shutdown' ? shutdownFatal(detail) : null);
    if (fatal && !this.o.client.destroyed) {
      recorder.bytes('server', fatal);
      this.o.client.write(fatal);
    }
    recorder.closeChunks();
    const counts = recorder.byteCounts;
    recorder.event('session.ended', { reason, ...(detail ? { detail } : {}), bytesFromClient: counts.client, bytesToClient: counts.server, commands: this.commands });
    this.o.target.end();
    if (!this.o.client.destroyed) this.o.client.end();
    this.privateReply?.abort();
    this.wakeAnswered();
    this.resolveEnded();
  }
}

const FORWARD: GateVerdict = { action: 'forward' };

function shutdownFatal(detail: string | undefined): Buffer {
  return errorResponse({ severity: 'FATAL', sqlstate: SqlState.AdminShutdown, message: 'terminating connection due to administrator command', ...(detail ? { detail } : {}) });
}

/** Messages that can begin what runs next: a Bind may run a statement parsed long before. */
const STARTS_WORK = new Set<number>([Fe.Query, Fe.Parse, Fe.Bind, Fe.FunctionCall]);

/** What the gate sees, plus what the record needs from the same decoding. */
type DecodedStatement = GatedStatement & { parse?: ParseMessage; functionOid?: number };

function isCommand(type: number): boolean {
  return type === Fe.Query || type === Fe.Execute || type === Fe.FunctionCall || type === Fe.Parse;
}

function denialOf(v: Extract<GateVerdict, { action: 'deny' }>): Denial {
  return { sqlstate: v.sqlstate, message: v.message, ...(v.detail ? { detail: v.detail } : {}), ...(v.hint ? { hint: v.hint } : {}) };
}

/** Joins a forwarded message to the previous one when they are adjacent in the same chunk. */
function appendSlice(out: Buffer[], b: Buffer): void {
  const last = out[out.length - 1];
  if (last && last.buffer === b.buffer && last.byteOffset + last.length === b.byteOffset) {
    out[out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + b.length);
  } else {
    out.push(b);
  }
}

import type { Hold } from '../../approvals/approval-desk.js';
import { findGrant } from '../../approvals/planned-approvals.js';
import type { ClientChannel, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { CommandCompletedData, FileOperationData, StatementDecision } from '../../../events/index.js';
import { DEFAULT_TRAIL, redactedCommand } from '../../masking/detectors/trail-redactor.js';
import { checkAnyRight, checkExec, checkRight, type ScpInvocation } from '../policy/ssh-policy.js';
import { ClientOutput } from './client-output.js';
import { ScpObserver } from './scp-observer.js';
import { SftpRelay } from './sftp/sftp-relay.js';
import type { SshSession } from './ssh-session.js';
import { openTargetSession, type TargetSession } from './target-session.js';

type Kind = 'shell' | 'exec' | 'subsystem';

interface ExitInfo {
  status?: number;
  signal?: { name: string; coreDumped: boolean; message?: string };
}

/** Environment a client may set per channel: enough for LANG, LC_* and a few of the job's own. */
const MAX_ENV = 64;
const MAX_ENV_BYTES = 32 * 1024;

/**
 * One session channel of a client: its pty, environment and the one shell, exec or subsystem it runs,
 * relayed to a channel of its own on the target. Output is recorded as it passes (per write, with its
 * time, when there is a terminal), input only when configured; the command, its exit and every file
 * operation are events.
 */
export class SessionChannel {
  private pty: PseudoTtyInfo | null = null;
  /** Variables relayed so far and their bytes: a bound on what a client may make the gateway send. */
  private envCount = 0;
  private envBytes = 0;
  /** The target's channel, opened at the first relayed variable or at the command. */
  private targetSession: Promise<TargetSession> | null = null;
  /** Env requests still waiting for the target's answer; the command is recorded after them. */
  private envPending: Promise<void> = Promise.resolve();
  private agent = false;
  private started = false;
  private client: ServerChannel | null = null;
  /** Everything toward the client goes through here, stdout and stderr in the order they came. */
  private output: ClientOutput | null = null;
  private target: ClientChannel | null = null;
  private command: { seq: number; startedAt: bigint } | null = null;
  private exit: ExitInfo = {};
  private finished = false;
  private sftp: SftpRelay | null = null;
  private scp: { observer: ScpObserver; invocation: ScpInvocation } | null = null;
  private clientGone = false;
  /** The exec command waiting for approval, if any. */
  private held: Hold | null = null;

  constructor(
    private readonly s: SshSession,
    session: Session,
    readonly id: number,
  ) {
    session.on('pty', (accept, _reject, info) => {
      this.pty = info;
      this.s.recorder.closeChunks();
      this.s.recorder.event('terminal.opened', { channel: id, term: String(info.term).slice(0, 256), cols: info.cols, rows: info.rows });
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (this.pty) Object.assign(this.pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      // Closed chunks first, so the resize sits exactly between the output before it and after it.
      this.s.recorder.closeChunks();
      this.s.recorder.event('terminal.resized', { channel: id, cols: info.cols, rows: info.rows });
      this.target?.setWindow(info.rows, info.cols, info.height, info.width);
      accept?.();
    });
    session.on('env', (accept, reject, info) => this.env(String(info.key), String(info.val), accept, reject));
    session.on('x11', (_accept, reject) => {
      this.s.refuse({ request: 'x11', channel: id, reason: 'X11 forwarding is never relayed by the gateway' });
      reject?.();
    });
    session.on('auth-agent', (accept, reject) => {
      const decision = checkRight(this.s.grant, 'agent');
      if (decision.outcome === 'allowed' && this.s.agentForwarding) {
        this.agent = true;
        accept?.();
        return;
      }
      this.s.refuse({ request: 'agent', channel: id, reason: decision.outcome === 'allowed' ? 'agent forwarding is not available on this gateway' : 'no rule grants agent', needs: ['agent'] });
      reject?.();
    });
    session.on('signal', (accept, _reject, info) => {
      const name = String(info.name).replace(/^SIG/, '');
      if (this.target) {
        this.s.recorder.event('signal.forwarded', { channel: id, signal: name });
        this.target.signal(name);
      }
      accept?.();
    });
    session.on('shell', (accept, reject) => this.guard(this.start('shell', '', accept, reject)));
    session.on('exec', (accept, reject, info) => this.guard(this.start('exec', info.command, accept, reject)));
    session.on('subsystem', (accept, reject, info) => this.guard(this.start('subsystem', info.name, accept, reject)));
    session.on('close', () => this.clientClosed());
  }

  /** A failure in one channel ends that channel, recorded, and never the gateway. */
  private guard(work: Promise<void>): void {
    work.catch((err: Error) => {
      console.error(`trailgate: ssh channel ${this.id}: ${err.stack ?? err.message}`);
      this.complete('error', { error: `gateway error: ${err.message}` });
      this.target?.close();
      this.client?.close();
    });
  }

  private async start(kind: Kind, text: string, accept: (() => ServerChannel) | undefined, reject: (() => void) | undefined): Promise<void> {
    if (this.started || !accept) {
      reject?.();
      return;
    }
    this.started = true;
    // Accepted at once: the client may already have sent its end of input, and ssh2 takes no late accept then.
    const client = accept();
    this.client = client;
    // Variables asked for before the command are answered and recorded before it.
    await this.envPending;
    const { decision, scp, reason } = this.decide(kind, text);
    this.output = new ClientOutput(client, () => {
      this.target?.resume();
      this.target?.stderr.resume();
    });
    const recorder = this.s.recorder;
    const held = kind === 'exec' && decision.outcome === 'allowed' ? await this.approval(text) : null;
    if (this.s.ended) return;
    recorder.closeChunks();
    this.s.commands++;
    // The exec command line as recorded: secrets passed on it (tokens, keys) replaced by markers; the target gets it as sent.
    const seq = recorder.event('command.started', redactedCommand({ protocol: kind, text, channel: this.id, pty: this.pty !== null, decision, ...(held?.approvalId ? { approvalId: held.approvalId } : {}) }, DEFAULT_TRAIL));
    this.command = { seq, startedAt: process.hrtime.bigint() };
    if (held && this.clientGone) {
      this.complete('error', { error: 'the client left while the command waited for approval' });
      this.dropTarget();
      return;
    }
    if (held?.refusal) {
      this.refuseCommand(held.refusal, 'denied');
      return;
    }
    if (decision.outcome === 'denied') {
      const what = kind === 'shell' ? 'a shell' : kind === 'exec' ? 'this command' : `the ${text} subsystem`;
      this.refuseCommand(`trailgate: ${what} on target '${this.s.targetName}' needs the ${decision.needs.join(' or ')} right${reason ? ` (${reason})` : ''}, which no rule grants to ${this.s.who} [TG_POLICY_DENIED]`, 'denied');
      return;
    }
    if (this.s.strict) {
      try {
        await recorder.durable();
      } catch (err) {
        this.refuseCommand(`trailgate: the command was not run because it could not be recorded: ${(err as Error).message}`, 'error');
        return;
      }
    }
    if (this.clientGone || this.s.ended) {
      this.complete('error', { error: 'the client left before the command started' });
      this.dropTarget();
      return;
    }
    if (kind === 'subsystem') {
      this.sftp = new SftpRelay({ check: (rights) => checkAnyRight(this.s.grant, rights), record: (op) => this.fileOperation('sftp', op) });
    } else if (scp) {
      this.scp = { invocation: scp, observer: new ScpObserver(scp, (op) => this.fileOperation('scp', op)) };
    }
    this.openTarget(kind, text, (err, target) => {
      if (err || !target) {
        this.refuseCommand(`trailgate: the target would not start ${kind === 'exec' ? 'the command' : `the ${kind}`}: ${err?.message ?? 'no channel'}`, 'error');
        return;
      }
      if (this.clientGone || this.s.ended) {
        target.close();
        this.complete('error', { error: 'the client left before the command started' });
        return;
      }
      this.target = target;
      this.relay(client, target);
    });
  }

  /** Holds an exec command a rule names until people decide; the client reads why on stderr meanwhile. */
  private async approval(text: string): Promise<{ approvalId?: string; refusal?: string } | null> {
    const rule = this.s.approvals?.commandRule(text);
    if (!rule) return null;
    // An approved window of this run lifts the rule's hold (`trailgate approvals request --window`).
    const desk = this.s.approvals!.desk;
    const grant = await findGrant(desk.store, { rule, target: this.s.targetName, identity: this.s.identity, text, trail: DEFAULT_TRAIL }, desk.now()).catch(() => null);
    if (grant) return { approvalId: grant.id };
    const hold = desk.hold({
      rule,
      target: this.s.targetName,
      kind: 'command',
      text,
      identity: this.s.identity,
      sessionId: this.s.sessionId,
      record: (type, data) => void this.s.recorder.event(type, data),
      notice: (message) => {
        if (this.clientGone || this.s.ended) return;
        const line = Buffer.from(`${message}\r\n`);
        this.s.recorder.bytes('server', line, this.id, { stderr: true, timed: this.pty !== null });
        this.output!.write(line, true);
      },
    });
    this.held = hold;
    const outcome = await hold.outcome;
    this.held = null;
    if (outcome.state === 'approved') return { approvalId: outcome.approvalId };
    const why =
      outcome.state === 'rejected'
        ? `rejected by ${outcome.deciders.join(', ')} (approval ${outcome.approvalId}): ${outcome.reason}`
        : outcome.state === 'withdrawn'
          ? `approval ${outcome.approvalId} withdrawn`
          : `approval ${outcome.approvalId} ${outcome.state}: ${outcome.reason}`;
    return { refusal: `trailgate: the command was not run: ${why} [TG_APPROVAL_${outcome.state.toUpperCase()}]` };
  }

  private decide(kind: Kind, text: string): { decision: StatementDecision; scp: ScpInvocation | null; reason?: string } {
    if (kind === 'shell') return { decision: checkRight(this.s.grant, 'shell'), scp: null };
    if (kind === 'exec') return checkExec(this.s.grant, text);
    if (text === 'sftp') return { decision: checkAnyRight(this.s.grant, ['sftp-read', 'sftp-write']), scp: null };
    return { decision: { outcome: 'denied', needs: [`subsystem:${text}`], missing: [`subsystem:${text}`] }, scp: null, reason: 'only the sftp subsystem is relayed' };
  }

  /**
   * One env request: the policy decides; an allowed variable goes to the target with want-reply, and the
   * client gets the target's own answer. Each request is recorded with its outcome (the value unless masked).
   */
  private env(name: string, value: string, accept: (() => void) | undefined, reject: (() => void) | undefined): void {
    const decision = this.s.env.decide(name, value);
    const bytes = name.length + value.length;
    const record = (outcome: 'accepted' | 'target-refused' | 'refused', reason?: string) => {
      this.s.recorder.closeChunks();
      this.s.recorder.event('environment.requested', {
        channel: this.id,
        name: name.slice(0, 256),
        ...(decision.masked ? { masked: true } : { value: value.slice(0, 4096) }),
        outcome,
        ...(reason ? { reason } : {}),
        ...(decision.rules ? { rules: decision.rules } : {}),
      });
    };
    // Answers go back in the order the requests came (SSH matches replies to requests by order), and are recorded so.
    if (!decision.allowed || this.started || this.envCount >= MAX_ENV || this.envBytes + bytes > MAX_ENV_BYTES) {
      const reason = decision.reason ?? (this.started ? 'the command already started' : `more than ${MAX_ENV} variables or ${MAX_ENV_BYTES} bytes of environment`);
      this.envPending = this.envPending.then(() => {
        record('refused', reason);
        reject?.();
      });
      return;
    }
    this.envCount++;
    this.envBytes += bytes;
    const answer = this.openTargetSession().then((t) => t.env(name, value));
    this.envPending = this.envPending.then(() =>
      answer.then(
        (ok) => {
          record(ok ? 'accepted' : 'target-refused', ok ? undefined : 'the target refused it (its sshd AcceptEnv)');
          if (ok) accept?.();
          else reject?.();
        },
        (err: Error) => {
          record('target-refused', `the target channel could not be opened: ${err.message}`);
          reject?.();
        },
      ),
    );
  }

  private openTargetSession(): Promise<TargetSession> {
    this.targetSession ??= openTargetSession(this.s.target);
    return this.targetSession;
  }

  private openTarget(kind: Kind, text: string, cb: (err: Error | undefined, channel?: ClientChannel) => void): void {
    const pty = this.pty ? { rows: this.pty.rows, cols: this.pty.cols, height: this.pty.height, width: this.pty.width, term: this.pty.term, modes: this.pty.modes } : null;
    const run = async (): Promise<ClientChannel> => {
      const target = await this.openTargetSession();
      if (this.agent) await target.agentForward();
      // The run's tags go last, so a job can never have set them first; sent at once, answered in order.
      await Promise.all(Object.entries(this.s.tags).map(([k, v]) => target.env(k, v)));
      if (pty && kind !== 'subsystem' && !(await target.pty(pty))) throw new Error('Unable to request a pseudo-terminal');
      if (kind === 'shell') return target.shell();
      if (kind === 'exec') return target.exec(text);
      return target.subsystem(text);
    };
    run().then(
      (channel) => cb(undefined, channel),
      (err: Error) => {
        this.dropTarget();
        cb(err);
      },
    );
  }

  private relay(client: ServerChannel, target: ClientChannel): void {
    const recorder = this.s.recorder;
    const id = this.id;
    const timed = this.pty !== null;
    const recordInput = this.s.recordInput;
    const sftp = this.sftp;
    const scp = this.scp;
    const upload = scp?.invocation.direction === 'upload';

    const output = this.output!;
    const toClient = (b: Buffer) => {
      recorder.bytes('server', b, id, { timed });
      this.s.bytesToClient += b.length;
      return output.write(b);
    };
    target.on('data', (data: Buffer) => {
      let flushed = true;
      if (sftp) {
        let out: Buffer[];
        try {
          out = sftp.fromTarget(data);
        } catch (err) {
          this.protocolFailure(err as Error);
          return;
        }
        for (const b of out) flushed = toClient(b);
      } else {
        if (scp && upload) scp.observer.fromSink(data);
        else if (scp) scp.observer.fromSource(data);
        flushed = toClient(data);
      }
      if (!flushed) target.pause();
    });
    target.stderr.on('data', (data: Buffer) => {
      recorder.bytes('server', data, id, { stderr: true, timed });
      this.s.bytesToClient += data.length;
      if (!output.write(data, true)) target.stderr.pause();
    });

    client.on('data', (data: Buffer) => {
      this.s.bytesFromClient += data.length;
      if (recordInput) recorder.bytes('client', data, id, { timed });
      let flushed = true;
      if (sftp) {
        let out;
        try {
          out = sftp.fromClient(data);
        } catch (err) {
          this.protocolFailure(err as Error);
          return;
        }
        for (const b of out.forward) flushed = target.write(b);
        for (const b of out.reply) toClient(b);
      } else {
        if (scp && upload) scp.observer.fromSource(data);
        else if (scp) scp.observer.fromSink(data);
        flushed = target.write(data);
      }
      if (!flushed) client.pause();
    });
    target.on('drain', () => client.resume());
    client.on('end', () => target.end());
    target.on('exit', (code: number | null, signal?: string, coreDumped?: boolean, message?: string) => {
      if (typeof code === 'number') this.exit = { status: code };
      else if (signal) this.exit = { signal: { name: signal.replace(/^SIG/, ''), coreDumped: coreDumped === true, ...(message ? { message } : {}) } };
    });
    target.on('close', () => this.guard(this.targetClosed()));
    client.resume();
  }

  /** The target ended the command: everything it sent reaches the client, then its exit, then the close. */
  private async targetClosed(): Promise<void> {
    if (this.finished) return;
    const client = this.client;
    if (client && !this.clientGone) await this.output?.flushed();
    const exit = this.exit;
    const error = this.clientGone ? 'the client closed the channel' : exit.status === undefined && !exit.signal ? 'the target closed the channel without an exit status' : undefined;
    this.complete(exit.status === 0 ? 'ok' : 'error', { ...(error ? { error } : {}) });
    if (client && !this.clientGone) {
      if (exit.status !== undefined) client.exit(exit.status);
      else if (exit.signal) client.exit(exit.signal.name, exit.signal.coreDumped, exit.signal.message ?? '');
      client.end();
    }
  }

  private clientClosed(): void {
    this.clientGone = true;
    this.held?.abandon('the client closed the channel while the command waited for approval');
    if (this.target) this.target.close();
    else {
      this.dropTarget();
      if (!this.started) this.finished = true;
    }
  }

  /** A target channel opened for env requests whose command never ran is closed, not left behind. */
  private dropTarget(): void {
    void this.targetSession?.then(
      (t) => t.close(),
      () => undefined,
    );
  }

  /** The session is ending under this channel (client or target connection gone, gateway shutdown). */
  /** Ends the command with the session; resolves once what the client is told has left (the caller closes the connection then). */
  abort(reason: string, detail?: string): Promise<void> {
    this.held?.abandon(`the session ended (${reason}) while the command waited for approval`);
    if (this.finished) return Promise.resolve();
    const client = this.client;
    let told = Promise.resolve();
    if (client && this.output && !this.clientGone && reason === 'target-disconnected') {
      // The client would otherwise see only the gateway's disconnect, not that the host went away.
      const text = Buffer.from(`trailgate: the target host closed the connection before the command finished${detail ? ` (${detail})` : ''} [TG_TARGET_DISCONNECTED]\r\n`);
      this.s.recorder.bytes('server', text, this.id, { stderr: true, timed: this.pty !== null });
      this.output.write(text, true);
      told = this.output.flushed().then(() => {
        client.exit(255);
        client.end();
      });
    }
    this.complete('error', { error: `session ended before the command finished (${reason})` });
    this.target?.close();
    return told;
  }

  private refuseCommand(message: string, outcome: 'denied' | 'error'): void {
    this.dropTarget();
    const client = this.client!;
    const text = Buffer.from(`${message}\r\n`);
    this.s.recorder.bytes('server', text, this.id, { stderr: true, timed: this.pty !== null });
    this.output!.write(text, true);
    this.complete(outcome, { exitStatus: 1, ...(outcome === 'error' ? { error: message } : {}) });
    void this.output!.flushed().then(() => {
      client.exit(1);
      client.end();
    });
  }

  private protocolFailure(err: Error): void {
    this.exit = {};
    this.target?.close();
    this.complete('error', { error: `malformed SFTP stream: ${err.message}` });
    this.client?.close();
  }

  private complete(outcome: CommandCompletedData['outcome'], extra: Partial<CommandCompletedData>): void {
    if (this.finished || !this.command) return;
    this.finished = true;
    this.sftp?.end('the channel closed with the file open');
    this.scp?.observer.end(this.exit.status);
    const recorder = this.s.recorder;
    recorder.closeChunks();
    const exit = this.exit;
    recorder.event('command.completed', {
      commandSeq: this.command.seq,
      outcome,
      durationMs: Number((process.hrtime.bigint() - this.command.startedAt) / 1_000_000n),
      tags: [],
      rows: 0,
      channel: this.id,
      ...(exit.status !== undefined ? { exitStatus: exit.status } : {}),
      ...(exit.signal ? { exitSignal: exit.signal } : {}),
      ...extra,
    });
    this.s.channelDone(this);
  }

  private fileOperation(protocol: FileOperationData['protocol'], op: Omit<FileOperationData, 'protocol' | 'channel'>): void {
    // After the bytes that carried it, so a replay shows the operation where it happened.
    this.s.recorder.closeChunks();
    this.s.recorder.event('file.operation', { protocol, channel: this.id, ...op });
  }
}

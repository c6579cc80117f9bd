import type { Client, ClientChannel, Connection, ServerChannel, TcpipBindInfo, TcpipRequestInfo } from 'ssh2';
import type { JobIdentity, RequestRefusedData, SessionEndedData } from '../../../events/index.js';
import { checkRight, rulesGranting, type SshGrant } from '../policy/ssh-policy.js';
import type { SessionRecorder } from '../recorder/session-recorder.js';
import type { EnvironmentPolicy } from './environment-policy.js';
import { SessionChannel } from './session-channel.js';
import type { TargetApprovals } from '../../approvals/approval-desk.js';

export interface SshSessionOptions {
  conn: Connection;
  target: Client;
  targetName: string;
  recorder: SessionRecorder;
  grant: SshGrant;
  identity: JobIdentity;
  /** TRAILGATE_* variables sent with each command (empty when the target's sendEnv is off). */
  tags: Record<string, string>;
  strict: boolean;
  recordInput: boolean;
  /** Whether the target connection relays agent requests to the client (a rule grants `agent`). */
  agentForwarding: boolean;
  /** Which client environment variables reach the target. */
  env: EnvironmentPolicy;
  /** The approval rules of this target; absent when none names it. */
  approvals?: TargetApprovals;
  sessionId: string;
}

/**
 * One authenticated SSH connection and its twin toward the target: session channels, forwarding
 * requests and the end of both, recorded.
 */
export class SshSession {
  readonly recorder: SessionRecorder;
  readonly grant: SshGrant;
  readonly target: Client;
  readonly targetName: string;
  readonly tags: Record<string, string>;
  readonly strict: boolean;
  readonly recordInput: boolean;
  readonly agentForwarding: boolean;
  readonly env: EnvironmentPolicy;
  readonly approvals: TargetApprovals | undefined;
  readonly identity: JobIdentity;
  readonly sessionId: string;
  commands = 0;
  bytesFromClient = 0;
  bytesToClient = 0;
  ended = false;
  private nextChannel = 0;
  private readonly channels = new Set<SessionChannel>();
  private readonly forwards = new Set<{ close(): void }>();
  private readonly remoteForwards = new Map<string, number>();
  private resolveDone!: () => void;
  readonly done: Promise<void> = new Promise((resolve) => (this.resolveDone = resolve));

  constructor(private readonly o: SshSessionOptions) {
    this.recorder = o.recorder;
    this.grant = o.grant;
    this.target = o.target;
    this.targetName = o.targetName;
    this.tags = o.tags;
    this.strict = o.strict;
    this.recordInput = o.recordInput;
    this.agentForwarding = o.agentForwarding;
    this.env = o.env;
    this.approvals = o.approvals;
    this.identity = o.identity;
    this.sessionId = o.sessionId;
  }

  /** The target used the client's forwarded agent (a command signed with it). */
  agentUsed(): void {
    if (this.ended) return;
    this.recorder.closeChunks();
    this.recorder.event('forward.opened', { direction: 'agent', channel: this.nextChannel++, host: '', port: 0, rules: rulesGranting(this.grant, 'agent') });
  }

  /** Who the job is, for messages: the repository, or the token's subject. */
  get who(): string {
    return this.o.identity.ci.repository ?? this.o.identity.subject;
  }

  start(): void {
    const { conn, target } = this.o;
    conn.on('session', (accept) => {
      const session = accept();
      const channel = new SessionChannel(this, session, this.nextChannel++);
      this.channels.add(channel);
    });
    conn.on('tcpip', (accept, reject, info) => this.localForward(accept, reject, info));
    conn.on('openssh.streamlocal', (_accept, reject, info) => {
      this.refuse({ request: 'streamlocal', detail: info.socketPath, reason: 'forwarding to UNIX sockets is never relayed by the gateway' });
      reject();
    });
    conn.on('request', (accept, reject, name, info) => this.globalRequest(accept, reject, name, info));
    conn.on('close', () => this.end('client-disconnected'));
    conn.on('error', () => this.end('client-disconnected'));
    target.on('close', () => this.end('target-disconnected'));
    target.on('error', (err) => this.end('target-disconnected', err.message));
    target.on('tcp connection', (info, accept, reject) => this.remoteForwardConnection(info, accept, reject));
  }

  refuse(data: RequestRefusedData): void {
    this.recorder.closeChunks();
    this.recorder.event('request.refused', data);
  }

  channelDone(channel: SessionChannel): void {
    this.channels.delete(channel);
  }

  /** `ssh -L`: the client asks the gateway to connect somewhere; the target makes the connection. */
  private localForward(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): void {
    const decision = checkRight(this.grant, 'forward-local');
    const detail = `${info.destIP}:${info.destPort}`;
    if (decision.outcome === 'denied') {
      this.refuse({ request: 'forward-local', detail, reason: 'no rule grants forward-local', needs: ['forward-local'] });
      reject();
      return;
    }
    this.target.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, upstream) => {
      if (err || this.ended) {
        this.refuse({ request: 'forward-local', detail, reason: `the target could not connect: ${err?.message ?? 'session ended'}` });
        reject();
        return;
      }
      const channel = this.nextChannel++;
      this.recorder.event('forward.opened', { direction: 'local', channel, host: info.destIP, port: info.destPort, origin: `${info.srcIP}:${info.srcPort}`, rules: decision.rules ?? [] });
      this.pipeForward(channel, accept(), upstream);
    });
  }

  /** `ssh -R`: the target listens and hands each connection back through the gateway. */
  private globalRequest(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, info: TcpipBindInfo | { socketPath: string }): void {
    if (name === 'tcpip-forward' && 'bindPort' in info) {
      const decision = checkRight(this.grant, 'forward-remote');
      const detail = `${info.bindAddr}:${info.bindPort}`;
      if (decision.outcome === 'denied') {
        this.refuse({ request: 'forward-remote', detail, reason: 'no rule grants forward-remote', needs: ['forward-remote'] });
        reject?.();
        return;
      }
      this.target.forwardIn(info.bindAddr, info.bindPort, (err, port) => {
        if (err) {
          this.refuse({ request: 'forward-remote', detail, reason: `the target refused to listen: ${err.message}` });
          reject?.();
          return;
        }
        const bound = info.bindPort === 0 ? port : info.bindPort;
        this.remoteForwards.set(`${info.bindAddr}:${bound}`, bound);
        this.recorder.event('forward.opened', { direction: 'remote', channel: -1, host: info.bindAddr, port: bound, rules: decision.rules ?? [] });
        accept?.(bound);
      });
      return;
    }
    if (name === 'cancel-tcpip-forward' && 'bindPort' in info) {
      this.remoteForwards.delete(`${info.bindAddr}:${info.bindPort}`);
      this.target.unforwardIn(info.bindAddr, info.bindPort, () => accept?.());
      return;
    }
    if (name.startsWith('streamlocal-forward') || name.startsWith('cancel-streamlocal-forward')) {
      this.refuse({ request: 'streamlocal', detail: 'socketPath' in info ? info.socketPath : '', reason: 'forwarding to UNIX sockets is never relayed by the gateway' });
    }
    reject?.();
  }

  private remoteForwardConnection(info: TcpipRequestInfo, accept: () => ClientChannel, reject: () => void): void {
    if (this.ended || !this.remoteForwards.has(`${info.destIP}:${info.destPort}`)) {
      reject();
      return;
    }
    this.o.conn.forwardOut(info.destIP, info.destPort, info.srcIP, info.srcPort, (err, downstream) => {
      if (err) {
        reject();
        return;
      }
      const channel = this.nextChannel++;
      this.recorder.event('forward.opened', { direction: 'remote', channel, host: info.destIP, port: info.destPort, origin: `${info.srcIP}:${info.srcPort}`, rules: [] });
      this.pipeForward(channel, downstream, accept());
    });
  }

  /** Relays a forwarded connection: what goes toward the client is output, recorded; input only when configured. */
  private pipeForward(channel: number, client: ServerChannel | ClientChannel, upstream: ServerChannel | ClientChannel): void {
    let fromClient = 0;
    let toClient = 0;
    let closed = false;
    const handle = {
      close: () => {
        client.close();
        upstream.close();
      },
    };
    this.forwards.add(handle);
    upstream.on('data', (data: Buffer) => {
      toClient += data.length;
      this.bytesToClient += data.length;
      this.recorder.bytes('server', data, channel);
      if (!client.write(data)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('data', (data: Buffer) => {
      fromClient += data.length;
      this.bytesFromClient += data.length;
      if (this.recordInput) this.recorder.bytes('client', data, channel);
      if (!upstream.write(data)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    const done = () => {
      if (closed) return;
      closed = true;
      this.forwards.delete(handle);
      client.close();
      upstream.close();
      if (this.ended) return;
      this.recorder.closeChunks();
      this.recorder.event('forward.closed', { channel, bytesFromClient: fromClient, bytesToClient: toClient });
    };
    client.on('close', done);
    upstream.on('close', done);
  }

  end(reason: SessionEndedData['reason'], detail?: string): void {
    if (this.ended) return;
    this.ended = true;
    for (const channel of this.channels) channel.abort(reason);
    for (const f of this.forwards) f.close();
    const recorder = this.recorder;
    recorder.closeChunks();
    recorder.event('session.ended', { reason, ...(detail ? { detail } : {}), bytesFromClient: this.bytesFromClient, bytesToClient: this.bytesToClient, commands: this.commands });
    this.o.target.end();
    this.o.conn.end();
    this.resolveDone();
  }
}

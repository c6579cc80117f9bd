import type { Client, ClientChannel, PseudoTtyOptions } from 'ssh2';

/**
 * The parts of ssh2's Client (1.17) this file drives. ssh2 opens a session channel only together with
 * its exec, shell or subsystem request, and sends environment variables without asking for a reply;
 * relaying a client's env requests needs the target's channel open before the command and each
 * request answered, so the channel is opened and its requests sent here, as ssh2's own exec does.
 */
interface Ssh2Internals {
  _sock?: { writable?: boolean };
  _agentFwdEnabled?: boolean;
  _chanMgr: { add(cb: ChannelOpened): number; remove(id: number): void };
  _protocol: {
    session(chan: number, window: number, packetSize: number): void;
    env(chan: number, key: string, value: string, wantReply: boolean): void;
    pty(chan: number, rows: number, cols: number, height: number, width: number, term: string, modes: unknown, wantReply: boolean): void;
    exec(chan: number, command: string, wantReply: boolean): void;
    shell(chan: number, wantReply: boolean): void;
    subsystem(chan: number, name: string, wantReply: boolean): void;
    openssh_agentForward(chan: number, wantReply: boolean): void;
  };
}
type ChannelOpened = ((err: Error | undefined, channel?: OpenChannel) => void) & { type?: string };
interface OpenChannel extends ClientChannel {
  outgoing: { id: number; state: string };
  _callbacks: ((failed: boolean | Error) => void)[];
}
/** ssh2 marks the channel with what runs in it; its types know exec and shell only. */
type Kind = NonNullable<ClientChannel['subtype']> | 'subsystem';

/** ssh2's window and packet size for channels it opens (lib/Channel.js). */
const MAX_WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

/** Opens a session channel on the target without starting anything in it yet. */
export function openTargetSession(target: Client): Promise<TargetSession> {
  const client = target as unknown as Ssh2Internals;
  if (!client._sock?.writable) return Promise.reject(new Error('the target connection is closed'));
  if (typeof client._chanMgr?.add !== 'function' || typeof client._protocol?.session !== 'function') {
    return Promise.reject(new Error('this ssh2 version does not expose channel opening; Trailgate needs ssh2 1.x'));
  }
  return new Promise((resolve, reject) => {
    const opened: ChannelOpened = (err, channel) => (err || !channel ? reject(err ?? new Error('the target refused a session channel')) : resolve(new TargetSession(client, channel)));
    opened.type = 'session';
    const id = client._chanMgr.add(opened);
    if (id === -1) {
      reject(new Error('no free channels toward the target'));
      return;
    }
    client._protocol.session(id, MAX_WINDOW, PACKET_SIZE);
  });
}

/** A session channel on the target; each request waits for the target's answer (true: accepted). */
export class TargetSession {
  constructor(
    private readonly client: Ssh2Internals,
    readonly channel: OpenChannel,
  ) {}

  private request(send: (id: number) => void): Promise<boolean> {
    if (this.channel.outgoing.state !== 'open') return Promise.resolve(false);
    return new Promise((resolve) => {
      this.channel._callbacks.push((failed) => resolve(failed === false));
      send(this.channel.outgoing.id);
    });
  }

  env(name: string, value: string): Promise<boolean> {
    return this.request((id) => this.client._protocol.env(id, name, value, true));
  }

  pty(o: PseudoTtyOptions & { modes?: unknown }): Promise<boolean> {
    return this.request((id) => this.client._protocol.pty(id, o.rows ?? 24, o.cols ?? 80, o.height ?? 480, o.width ?? 640, o.term ?? 'vt100', o.modes ?? null, true));
  }

  /** Agent forwarding is one per connection in ssh2: a second channel finds it already on. */
  async agentForward(): Promise<boolean> {
    if (this.client._agentFwdEnabled) return true;
    this.client._agentFwdEnabled = true;
    const ok = await this.request((id) => this.client._protocol.openssh_agentForward(id, true));
    if (!ok) this.client._agentFwdEnabled = false;
    return ok;
  }

  exec(command: string): Promise<ClientChannel> {
    return this.start('exec', (id) => this.client._protocol.exec(id, command, true), 'Unable to exec');
  }

  shell(): Promise<ClientChannel> {
    return this.start('shell', (id) => this.client._protocol.shell(id, true), 'Unable to open shell');
  }

  subsystem(name: string): Promise<ClientChannel> {
    return this.start('subsystem', (id) => this.client._protocol.subsystem(id, name, true), `Unable to start subsystem: ${name}`);
  }

  private async start(kind: Kind, send: (id: number) => void, refused: string): Promise<ClientChannel> {
    if (!(await this.request(send))) throw new Error(refused);
    (this.channel as { subtype?: string }).subtype = kind;
    return this.channel;
  }

  close(): void {
    this.channel.close();
  }
}

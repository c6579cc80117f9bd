import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import type { Duplex } from 'node:stream';

/** ssh2's own window and packet sizes for channels it opens. */
const MAX_WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

/** The parts of ssh2's server-side connection that open a channel toward the client. */
interface ConnectionInternals {
  _chanMgr?: { add(handler: unknown): number };
  _protocol?: { openssh_authAgent?(channel: number, window: number, packet: number): void };
}

/**
 * Opens an `auth-agent@openssh.com` channel toward the gateway's client: its forwarded agent.
 * ssh2's server offers channel opens only for forwarded TCP, X11 and UNIX sockets, so this uses the
 * same internals those do (present throughout ssh2 1.x); without them agent forwarding stays off.
 */
function openClientAgent(conn: Connection, cb: (err: Error | undefined, channel?: ServerChannel) => void): void {
  const c = conn as unknown as ConnectionInternals;
  const handler = (err: Error | undefined, channel?: ServerChannel) => cb(err, channel);
  (handler as unknown as { type: string }).type = 'auth-agent@openssh.com';
  const id = c._chanMgr!.add(handler);
  if (id === -1) {
    cb(new Error('no free channels'));
    return;
  }
  c._protocol!.openssh_authAgent!(id, MAX_WINDOW, PACKET_SIZE);
}

export function canRelayAgent(conn: Connection): boolean {
  const c = conn as unknown as ConnectionInternals;
  return typeof c._chanMgr?.add === 'function' && typeof c._protocol?.openssh_authAgent === 'function';
}

/**
 * The agent the gateway's target connection offers when a rule grants `agent`: each time the target
 * asks for the agent, a channel to the client's own agent is opened and the two are joined. The
 * gateway never signs anything itself; the client's agent decides.
 */
export class ClientAgentRelay extends ssh2.BaseAgent {
  constructor(
    private readonly conn: Connection,
    private readonly onOpen: () => void,
  ) {
    super();
  }

  getIdentities(cb: (err: Error | undefined, keys?: ssh2.ParsedKey[]) => void): void {
    cb(new Error('the gateway does not use the client agent for its own logins'));
  }

  sign(_key: unknown, _data: Buffer, optionsOrCb: unknown, cb?: (err: Error | undefined) => void): void {
    const done = typeof optionsOrCb === 'function' ? (optionsOrCb as (err: Error | undefined) => void) : cb;
    done?.(new Error('the gateway does not use the client agent for its own logins'));
  }

  override getStream(cb: (err: Error | undefined, stream?: Duplex) => void): void {
    openClientAgent(this.conn, (err, channel) => {
      if (!err) this.onOpen();
      cb(err, channel);
    });
  }
}

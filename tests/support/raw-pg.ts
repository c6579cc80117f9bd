import net from 'node:net';

export interface ServerMessage {
  type: string;
  body: Buffer;
}

/** A deliberately minimal Postgres client for sending what no real driver would: malformed, truncated, oversized. */
export class RawPgClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawPgClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawPgClient(socket)));
      socket.once('error', reject);
    });
  }

  startup(params: Record<string, string>): void {
    const pairs = Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]);
    const body = Buffer.concat([...pairs, Buffer.from([0])]);
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + body.length, 0);
    head.writeInt32BE(196608, 4);
    this.socket.write(Buffer.concat([head, body]));
  }

  message(type: string, body: Buffer): Buffer {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'ascii');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  password(value: string): void {
    this.send(this.message('p', Buffer.from(`${value}\0`)));
  }

  query(text: string): void {
    this.send(this.message('Q', Buffer.from(`${text}\0`)));
  }

  /** The next server message, or null once the server has closed the connection. */
  async next(): Promise<ServerMessage | null> {
    for (;;) {
      if (this.buffer.length >= 5) {
        const len = this.buffer.readInt32BE(1);
        if (this.buffer.length >= len + 1) {
          const msg = { type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, len + 1) };
          this.buffer = this.buffer.subarray(len + 1);
          return msg;
        }
      }
      if (this.closed) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** One byte outside message framing: the answer to an SSL or GSS encryption request. */
  async singleByte(): Promise<string> {
    while (this.buffer.length === 0) {
      if (this.closed) throw new Error('connection closed before the answer byte');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const b = String.fromCharCode(this.buffer[0]!);
    this.buffer = this.buffer.subarray(1);
    return b;
  }

  /** Reads until a message of one of the given types arrives. */
  async until(...types: string[]): Promise<ServerMessage> {
    for (;;) {
      const msg = await this.next();
      if (!msg) throw new Error(`connection closed before any of ${types.join(',')}`);
      if (types.includes(msg.type)) return msg;
    }
  }

  /** Waits for the server to close the connection. */
  async closedByServer(): Promise<void> {
    while ((await this.next()) !== null);
  }

  end(): void {
    this.socket.end();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    out[code] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}

/** The real OpenSSH client (ssh, scp, sftp) against the gateway, the token given through SSH_ASKPASS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ASKPASS = join(import.meta.dirname, '../../bin/trailgate-askpass');
const PTY_DRIVER = join(import.meta.dirname, 'pty-driver.py');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  token: string;
  input?: string | Buffer;
  /** Client options that take precedence over the defaults (ssh keeps the first value it is given). */
  options?: string[];
  /** Extra environment for the client, e.g. SSH_AUTH_SOCK for agent forwarding. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class OpenSsh {
  constructor(
    readonly port: number,
    /** known_hosts holding the gateway's host key, so StrictHostKeyChecking=yes can hold. */
    readonly knownHosts: string,
  ) {}

  /** Options every client gets: no user config, the gateway's pinned key, the token by askpass only. */
  options(): string[] {
    return [
      '-F', '/dev/null',
      '-o', `Port=${this.port}`,
      '-o', `UserKnownHostsFile=${this.knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UpdateHostKeys=no',
      '-o', 'PubkeyAuthentication=no',
      '-o', 'ConnectTimeout=15',
      '-o', 'ControlMaster=no',
      '-o', 'ControlPath=none',
    ];
  }

  env(token: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', TRAILGATE_TOKEN: token, DISPLAY: process.env.DISPLAY ?? ':0' };
    delete env.SSH_AUTH_SOCK;
    return env;
  }

  ssh(args: string[], o: RunOptions): Promise<RunResult> {
    return this.run('ssh', [...(o.options ?? []), ...this.options(), ...args], o);
  }

  scp(args: string[], o: RunOptions): Promise<RunResult> {
    return this.run('scp', [...(o.options ?? []), ...this.options(), ...args], o);
  }

  /**
   * `sftp -b -` with the batch on stdin. sftp turns on BatchMode for -b, which would stop ssh from
   * asking for the token; ssh keeps the first value of an option, so BatchMode=no goes first.
   */
  sftp(destination: string, batch: string, o: Omit<RunOptions, 'input'>): Promise<RunResult> {
    return this.run('sftp', ['-o', 'BatchMode=no', ...(o.options ?? []), ...this.options(), '-b', '-', destination], { ...o, input: batch });
  }

  /** A long-running client (forwarding), for the test to end. */
  spawn(args: string[], token: string, o: { options?: string[]; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    return spawn('ssh', [...(o.options ?? []), ...this.options(), ...args], { env: { ...this.env(token), ...(o.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  run(program: string, args: string[], o: RunOptions): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, { env: { ...this.env(o.token), ...(o.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.input ?? '');
    });
  }

  /** ssh on a real pseudo-terminal (tests/support/pty-driver.py), driven like a person at a keyboard. */
  terminal(args: string[], token: string, size: { rows: number; cols: number }): PtySession {
    const child = spawn('python3', [PTY_DRIVER, '--rows', String(size.rows), '--cols', String(size.cols), 'ssh', ...this.options(), ...args], {
      env: this.env(token),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return new PtySession(child);
  }
}

/** What the person at the terminal saw, and the keys they press. */
export class PtySession {
  /** Every byte the terminal showed, in order. */
  screen = Buffer.alloc(0);
  readonly exited: Promise<{ code: number | null; signal: number | null }>;
  private waiters: (() => void)[] = [];

  constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    this.exited = new Promise((resolve) => {
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { out?: string; exit?: number | null; signal?: number | null };
        if (msg.out !== undefined) {
          this.screen = Buffer.concat([this.screen, Buffer.from(msg.out, 'base64')]);
          for (const w of this.waiters.splice(0)) w();
        } else if ('exit' in msg) {
          resolve({ code: msg.exit ?? null, signal: msg.signal ?? null });
        }
      });
    });
  }

  type(text: string): void {
    this.child.stdin!.write(`${JSON.stringify({ write: text })}\n`);
  }

  resize(rows: number, cols: number): void {
    this.child.stdin!.write(`${JSON.stringify({ resize: [rows, cols] })}\n`);
  }

  /** Resolves once the screen shows `text` (after `from` bytes), or fails after the timeout. */
  async waitFor(text: string | RegExp, from = 0, timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const shown = this.screen.subarray(from).toString('utf8');
      const at = typeof text === 'string' ? shown.indexOf(text) : shown.search(text);
      if (at >= 0) return from + Buffer.byteLength(shown.slice(0, at));
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the terminal did not show ${String(text)}; it shows:\n${shown}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

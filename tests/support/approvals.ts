import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { SqliteApprovalStore } from '../../services/approvals/sqlite-approval-store.js';
import type { ReplayConfig } from '../../services/config/replay-schema.js';
import { EmbeddedReplaySource } from '../../services/replay/embedded-source.js';
import { startReplayServer, type RunningReplay } from '../../services/replay/server/start.js';

/** A client process whose output lines can be awaited as they arrive (NOTICEs, messages on stderr). */
export class WatchedProcess {
  readonly lines: string[] = [];
  stdout = '';
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    let partial = '';
    child.stderr!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) this.line(line);
    });
    this.exited = once(child, 'exit').then(([code]) => {
      if (partial) this.line(partial);
      return (code as number | null) ?? -1;
    });
  }

  private line(line: string): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** The first line on stderr matching `re`, now or when it comes; fails if the process exits first. */
  waitFor(re: RegExp): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<string>((resolve) => this.waiters.push({ re, resolve })),
      this.exited.then((code) => Promise.reject(new Error(`exited ${code} before a line matched ${re}; stderr:\n${this.lines.join('\n')}`))),
    ]);
  }
}

export function psqlThrough(port: number, token: string, args: string[], database = 'app'): WatchedProcess {
  return new WatchedProcess(spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', `host=127.0.0.1 port=${port} dbname=${database} user=ci sslmode=disable`, ...args], { env: { ...process.env, PGPASSWORD: token }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The approval id a NOTICE or stderr line names. */
export function approvalIdIn(line: string): string {
  const m = /approval (apr_[A-Za-z0-9]+)/.exec(line);
  if (!m) throw new Error(`no approval id in: ${line}`);
  return m[1]!;
}

export const REVIEWERS = { alice: 'alice-token-0123456789', bob: 'bob-token-0123456789', carol: 'carol-token-0123456789', vic: 'vic-token-0123456789' } as const;

/** The replay server a reviewer uses, on its own connection to the gateway's embedded log (as `trailgate replay` would). */
export async function reviewerServer(dataDir: string, people: Record<string, string[]>): Promise<RunningReplay & { store: SqliteApprovalStore }> {
  const file = join(dataDir, 'trailgate.db');
  const source = new EmbeddedReplaySource(file);
  const store = new SqliteApprovalStore(file);
  for (const [name, token] of Object.entries(REVIEWERS)) process.env[`TG_TEST_REVIEWER_${name.toUpperCase()}`] = token;
  const config: ReplayConfig = {
    listen: { host: '127.0.0.1', port: 0 },
    sessionMinutes: 60,
    consumer: 'replay',
    users: [
      { name: 'alice', roles: ['approver'], token: { env: 'TG_TEST_REVIEWER_ALICE' } },
      { name: 'bob', roles: ['approver'], token: { env: 'TG_TEST_REVIEWER_BOB' } },
      { name: 'carol', roles: ['admin'], token: { env: 'TG_TEST_REVIEWER_CAROL' } },
      { name: 'vic', roles: ['viewer'], token: { env: 'TG_TEST_REVIEWER_VIC' } },
    ],
  };
  const replay = await startReplayServer({ source, config, approvals: { store, people } });
  return {
    ...replay,
    store,
    close: async () => {
      await replay.close();
      await store.close();
      source.close();
    },
  };
}

/** POST /api/approvals/:id/approve|reject as one reviewer. */
export async function review(url: string, who: keyof typeof REVIEWERS, id: string, verdict: 'approve' | 'reject', reason?: string): Promise<{ status: number; body: { code: string; message: string } }> {
  const res = await fetch(`${url}/api/approvals/${id}/${verdict}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${REVIEWERS[who]}`, 'content-type': 'application/json' },
    body: JSON.stringify(reason ? { reason } : {}),
  });
  return { status: res.status, body: (await res.json()) as { code: string; message: string } };
}

/** `trailgate approvals ...` as a reviewer (the built CLI, as users run it). */
export async function approvalsCli(url: string, who: keyof typeof REVIEWERS, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { execFile } = await import('node:child_process');
  const { CLI } = await import('./trailgate-up.js');
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'approvals', ...args, '--server', url], { env: { ...process.env, TRAILGATE_REPLAY_TOKEN: REVIEWERS[who] } }, (err, out, errOut) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }),
    );
  });
}

import { createHmac } from 'node:crypto';
import { resolveSecret } from '../config/secrets.js';
import type { Approval } from './approval.js';
import type { ApprovalNotifier } from './approval-desk.js';
import type { ApprovalsConfig } from './config.js';

type WebhookConfig = NonNullable<ApprovalsConfig['webhook']>;

/** `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`: the timestamp is signed, so an old delivery cannot be replayed as new. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The body of one notification: the approval as JSON, or a Slack incoming-webhook message linking to the UI. */
export function webhookBody(event: 'requested' | 'decided', a: Approval, format: WebhookConfig['format'], link: string | undefined): string {
  const url = link ? `${link.replace(/\/$/, '')}/approvals/${a.id}` : undefined;
  if (format === 'json') {
    const { identity: _claims, ...approval } = a;
    return JSON.stringify({ event: `approval.${event}`, approval, ...(url ? { url } : {}) });
  }
  const run = [a.run.repository, a.run.workflow, a.run.runId && `run ${a.run.runId}${a.run.runAttempt ? `/${a.run.runAttempt}` : ''}`, a.run.actor && `by ${a.run.actor}`].filter(Boolean).join(' · ');
  const head = event === 'requested' ? `:hourglass: Approval needed on *${a.target}* (rule ${a.rule}, ${a.quorum} approver${a.quorum === 1 ? '' : 's'})` : `Approval ${a.id} on *${a.target}*: *${a.state}*${a.deciders.length ? ` by ${a.deciders.join(', ')}` : ''}`;
  const text = `${head}\n${run}\n\`\`\`${a.text.slice(0, 2000)}\`\`\`${url ? `\n<${url}|Review in Trailgate>` : ''}`;
  return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
}

/** Posts each request and decision, retrying with exponential backoff; failures are logged, never fatal. */
export function webhookNotifier(config: WebhookConfig, link: string | undefined, log: (line: string) => void = (l) => console.error(l)): ApprovalNotifier {
  const secret = config.secret ? resolveSecret(config.secret, 'approvals.webhook.secret') : undefined;
  return (event, approval) => {
    const body = webhookBody(event, approval, config.format, link);
    void deliver(config, body, secret).catch((err: Error) => log(`trailgate: approvals webhook: ${err.message} [TG_APPROVAL_WEBHOOK]`));
  };
}

async function deliver(config: WebhookConfig, body: string, secret: string | undefined): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt <= config.retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, config.backoffMillis * 2 ** (attempt - 1)));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-trailgate-timestamp': timestamp };
    if (secret) headers['x-trailgate-signature'] = webhookSignature(secret, timestamp, body);
    try {
      const res = await fetch(config.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      // A 4xx other than 408/429 will not change on a retry.
      if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`delivery to ${new URL(config.url).host} failed (${last}) after ${config.retries + 1} attempts`);
}

import type { Approval, Review } from '../../approvals/approval.js';
import { parameterText } from '../transcript.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './pages.js';
import type { Principal } from './principals.js';

function runText(a: Approval): string {
  const r = a.run;
  return [r.repository, r.workflow, r.ref, r.runId && `run ${r.runId}${r.runAttempt ? ` attempt ${r.runAttempt}` : ''}`, r.actor && `actor ${r.actor}`].filter(Boolean).join(' · ');
}

/** The approver's queue: what waits, newest first, and what was decided lately. */
export function approvalsPage(who: Principal, approvals: readonly Approval[]): SafeHtml {
  const rows = approvals.map(
    (a) => html`<tr class="approval" data-id="${a.id}" data-state="${a.state}">
<td><a href="/approvals/${encodeURIComponent(a.id)}">${a.id}</a></td><td>${a.state}</td><td>${a.target}</td><td>${a.rule}</td>
<td><code>${a.text.slice(0, 200)}</code></td><td>${runText(a)}</td><td>${a.deciders.join(', ')}</td><td>${a.expiresAt}</td></tr>`,
  );
  return layout(
    'Approvals',
    who,
    html`<h1>Approvals</h1>
${approvals.length ? html`<table class="approvals"><thead><tr><th>Id</th><th>State</th><th>Target</th><th>Rule</th><th>Statement</th><th>Run</th><th>Decided by</th><th>Expires</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="message" id="empty">Nothing waits for approval.</p>`}`,
  );
}

const KIND_HEADINGS: Record<Approval['kind'], string> = {
  statement: 'Statement',
  command: 'Command',
  'statement-set': 'Statements to apply, in this run only',
  window: 'Window: what the rule holds, for this run only',
};

/** One approval: the statement, its parameters, the run and its claims, the target, who reviewed; the buttons while pending. */
export function approvalPage(who: Principal, a: Approval, reviews: readonly Review[], notice?: string): SafeHtml {
  const claims = Object.entries({ issuer: a.identity.issuer, subject: a.identity.subject, ...a.identity.ci }).filter(([, v]) => v !== undefined && v !== '');
  return layout(
    `Approval ${a.id}`,
    who,
    html`<h1>Approval <code>${a.id}</code></h1>
${notice ? html`<p class="message" id="notice" role="status">${notice}</p>` : ''}
<dl class="approval-facts">
<dt>State</dt><dd id="state">${a.state}</dd>
<dt>Target</dt><dd id="target">${a.target}</dd>
<dt>Rule</dt><dd>${a.rule} (${a.quorum} approver${a.quorum === 1 ? '' : 's'}${a.allowSelfApproval ? ', self-approval allowed' : ''})</dd>
<dt>Expires</dt><dd>${a.expiresAt}</dd>
<dt>Session</dt><dd><a href="/sessions/${encodeURIComponent(a.sessionId)}">${a.sessionId}</a></dd>
</dl>
<h2>${KIND_HEADINGS[a.kind]}</h2>
<pre class="statement" id="statement">${a.text}</pre>
<p class="digest">sha256 ${a.textSha256}${a.parametersSha256 ? ` · parameters sha256 ${a.parametersSha256}` : ''}</p>
${a.parameters?.length ? html`<h2>Parameters</h2><ol class="parameters" id="parameters">${a.parameters.map((p) => html`<li><code>${parameterText(p)}</code></li>`)}</ol>` : ''}
<h2>Run</h2>
<dl class="claims" id="claims">${claims.map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>
<h2>Reviews</h2>
${reviews.length ? html`<ul class="reviews" id="reviews">${reviews.map((r) => html`<li>${r.reviewer}: ${r.verdict}${r.counted ? '' : ` (not counted: ${r.refusedReason ?? 'refused'})`}${r.reason ? html` · ${r.reason}` : ''} · ${r.at}</li>`)}</ul>` : html`<p id="reviews">No reviews yet.</p>`}
${
  a.state === 'pending'
    ? html`<form method="post" action="/approvals/${encodeURIComponent(a.id)}/review" class="review">
<label>Reason <input type="text" name="reason" id="reason" maxlength="500"></label>
<button type="submit" name="verdict" value="approve" id="approve">Approve</button>
<button type="submit" name="verdict" value="reject" id="reject">Reject</button>
</form>`
    : ''
}`,
  );
}

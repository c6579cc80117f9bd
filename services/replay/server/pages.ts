import type { EventRecord, JobIdentity } from '../../../events/index.js';
import type { IntegrityVerdict } from '../integrity.js';
import type { SessionFilter, SessionListing } from '../record-source.js';
import { decisionText, outcomeText, parameterText, type Transcript } from '../transcript.js';
import { html, localHref, type SafeHtml } from './html.js';
import type { Principal } from './principals.js';

export function layout(title: string, who: Principal | null, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Trailgate replay</title>
<link rel="stylesheet" href="/assets/asciinema-player.css">
<link rel="stylesheet" href="/assets/replay.css">
</head>
<body>
<header class="top"><a class="brand" href="/">Trailgate replay</a>${
    who
      ? html`<span class="who">${who.name} (${who.roles.join(', ') || 'no role'})</span><form method="post" action="/logout" class="logout"><button type="submit">Sign out</button></form>`
      : ''
  }</header>
<main>
${body}
</main>
<script src="/assets/asciinema-player.min.js"></script>
<script src="/assets/replay.js"></script>
</body>
</html>`;
}

export function messagePage(title: string, message: string, who: Principal | null = null): SafeHtml {
  return layout(title, who, html`<h1>${title}</h1><p class="message">${message}</p>`);
}

export function redirectPage(next: string): SafeHtml {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${localHref(next)}"><title>Signed in</title></head><body><p><a href="${localHref(next)}">Continue</a></p></body></html>`;
}

export function loginPage(o: { next: string; error?: string | undefined; oidc: boolean; tokens: boolean }): SafeHtml {
  return layout(
    'Sign in',
    null,
    html`<h1>Sign in</h1>
${o.error ? html`<p class="error" role="alert">${o.error === '1' ? 'Sign-in failed.' : o.error}</p>` : ''}
${o.oidc ? html`<p><a class="button" id="sso" href="/auth/oidc/login?next=${encodeURIComponent(o.next)}">Sign in with single sign-on</a></p>` : ''}
${
  o.tokens
    ? html`<form method="post" action="/login" class="login">
<input type="hidden" name="next" value="${o.next}">
<label>Access token <input type="password" name="token" id="token" autocomplete="off" required></label>
<button type="submit" id="sign-in">Sign in</button>
</form>`
    : ''
}`,
  );
}

function runOf(id: JobIdentity | null): string {
  return id?.ci.runId ? `${id.ci.runId}/${id.ci.runAttempt ?? '1'}` : '';
}

export function sessionsPage(who: Principal, filter: SessionFilter, sessions: SessionListing[]): SafeHtml {
  const field = (name: keyof SessionFilter, label: string, type = 'text') =>
    html`<label>${label} <input type="${type}" name="${name}" value="${filter[name] === undefined ? '' : String(filter[name])}"></label>`;
  return layout(
    'Sessions',
    who,
    html`<h1>Sessions</h1>
<form method="get" action="/" class="filters" id="filters">
${field('q', 'Command text')}${field('repository', 'Repository')}${field('run', 'Run')}${field('actor', 'Actor')}${field('target', 'Target')}
<label>Protocol <select name="protocol"><option value="">any</option><option value="postgres"${filter.protocol === 'postgres' ? html` selected` : ''}>postgres</option><option value="ssh"${filter.protocol === 'ssh' ? html` selected` : ''}>ssh</option><option value="kubernetes"${filter.protocol === 'kubernetes' ? html` selected` : ''}>kubernetes</option></select></label>
${field('from', 'From (ISO time)')}${field('to', 'To (ISO time)')}
<button type="submit" id="search">Search</button>
</form>
<table class="sessions" id="sessions">
<thead><tr><th>Started</th><th>Session</th><th>Protocol</th><th>Target</th><th>Repository</th><th>Run</th><th>Actor</th><th>Commands</th><th>State</th></tr></thead>
<tbody>
${sessions.map(
  (s) => html`<tr>
<td>${s.startedAt}</td><td><a class="session-link" href="/sessions/${encodeURIComponent(s.sessionId)}">${s.sessionId}</a></td><td>${s.context.protocol}</td><td>${s.context.target?.name ?? ''}</td>
<td>${s.context.identity?.ci.repository ?? ''}</td><td>${runOf(s.context.identity)}</td><td>${s.context.identity?.ci.actor ?? ''}</td><td>${s.commands}</td><td>${s.endedAt ? (s.endReason ?? 'ended') : 'open'}</td>
</tr>`,
)}
</tbody>
</table>
${sessions.length === 0 ? html`<p class="empty">No session matches.</p>` : ''}`,
  );
}

export interface SessionPageData {
  session: SessionListing;
  verdict: IntegrityVerdict;
  events: EventRecord[];
  transcript: Transcript | null;
  /** Where the player loads the cast from, for terminal sessions. */
  castUrl: string | null;
  castProblem: string | null;
}

function rows(pairs: [string, string | undefined | null][]): SafeHtml {
  return html`${pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}`;
}

function identitySection(id: JobIdentity | null): SafeHtml {
  if (!id) return html`<section id="identity"><h2>Identity</h2><p>No verified identity (authentication did not succeed).</p></section>`;
  const ci = id.ci;
  return html`<section id="identity"><h2>Identity and claims</h2>
<table class="kv">${rows([
    ['Repository', ci.repository],
    ['Workflow', ci.workflow],
    ['Ref', ci.ref],
    ['Commit', ci.sha],
    ['Run', runOf(id)],
    ['Actor', ci.actor],
    ['Environment', ci.environment],
    ['Event', ci.eventName],
    ['Issuer', `${id.issuerName} (${id.issuer})`],
    ['Subject', id.subject],
    ['Token id', id.tokenId],
    ['Token expires', id.expiresAt],
  ])}</table>
${id.claims ? html`<details><summary>All claims</summary><table class="kv claims">${rows(Object.entries(id.claims))}</table></details>` : ''}
</section>`;
}

function timeline(events: EventRecord[]): SafeHtml {
  return html`<section id="timeline"><h2>Timeline</h2><table class="timeline"><thead><tr><th>Seq</th><th>Time</th><th>Event</th><th>Detail</th></tr></thead><tbody>
${events.map((e) => html`<tr><td>${e.seq}</td><td>${e.ts}</td><td>${e.type}</td><td class="detail">${detail(e)}</td></tr>`)}
</tbody></table></section>`;
}

function detail(e: EventRecord): string {
  const text = JSON.stringify(e.data);
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}

function transcriptSection(t: Transcript): SafeHtml {
  return html`<section id="transcript"><h2>Transcript</h2>
${t.entries.length === 0 ? html`<p>No statements were recorded.</p>` : ''}
<ol class="statements">
${t.entries.map(
  (e) => html`<li class="statement ${e.completion?.outcome ?? 'open'}" data-seq="${e.seq}">
<div class="meta">#${e.seq} · ${e.startedAt} (+${e.offset.toFixed(3)} s) · ${e.protocol}${e.statementName ? ` · statement ${e.statementName}` : ''}</div>
<pre class="sql">${e.text}</pre>
${e.parameters?.length ? html`<div class="params">Parameters: ${e.parameters.map((p, i) => html`<code>$${i + 1} = ${parameterText(p)}</code> `)}</div>` : ''}
<div class="decision">Decision: ${decisionText(e.decision)}</div>
<div class="outcome">Outcome: ${outcomeText(e.completion)}</div>
${e.masking.map((m) => html`<div class="masking">Masking: ${m.type} ${JSON.stringify(m.data)}</div>`)}
${e.notes.map((n) => html`<div class="note">${n.type}: ${JSON.stringify(n.data)}</div>`)}
</li>`,
)}
</ol></section>`;
}

export function sessionPage(who: Principal, d: SessionPageData): SafeHtml {
  const s = d.session;
  return layout(
    `Session ${s.sessionId}`,
    who,
    html`<h1>Session <span class="id">${s.sessionId}</span></h1>
<table class="kv summary">${rows([
      ['Protocol', s.context.protocol],
      ['Target', s.context.target?.name],
      ['Client', `${s.context.client.address}:${s.context.client.port}`],
      ['Gateway', s.context.instance],
      ['Started', s.startedAt],
      ['Ended', s.endedAt ? `${s.endedAt} (${s.endReason ?? 'ended'})` : 'still open or not recorded'],
      ['Records', String(s.records)],
    ])}</table>
<section id="integrity" class="verdict ${d.verdict.status}"><h2>Integrity</h2><p><strong class="status">${d.verdict.status}</strong> ${d.verdict.summary}${d.verdict.failedSeq !== undefined ? ` (first failing record: #${d.verdict.failedSeq})` : ''}</p></section>
${identitySection(s.context.identity)}
${d.castUrl ? html`<section id="terminal"><h2>${s.context.protocol === 'postgres' ? 'Replay' : 'Terminal'}</h2><div id="player" class="player" data-cast="${d.castUrl}"></div></section>` : ''}
${d.castProblem ? html`<section id="terminal"><h2>Terminal</h2><p>${d.castProblem}</p></section>` : ''}
${d.transcript ? transcriptSection(d.transcript) : ''}
${timeline(d.events)}`,
  );
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import type { LedgerCopy } from '../verify/ledger-copy.js';
import { keysDir, readPublishedKeys } from '../integrity/signing-keys.js';
import { TrustedKeys } from '../verify/trusted-keys.js';
import { recordsFileSource } from '../verify/records-source.js';
import { embeddedLogSource } from '../verify/verify-source.js';
import { verify } from '../verify/verify.js';
import type { VerifyReport } from '../verify/verdict.js';
import type { TrailgateConfig } from '../config/schema.js';
import { cliConfig } from './cli-config.js';
import { openLogForReading } from './open-log.js';
import { printTable, printable } from './table.js';

export interface VerifyCommandOptions {
  all?: boolean;
  jwks?: string;
  json?: boolean;
  ledgerFrom?: string;
  /** NDJSON of forwarded records exported back out of a SIEM. */
  records?: string;
}

/** The trust anchor: a JWKS held apart from the log when the operator has one, else the gateway's own. */
function trustedKeys(config: TrailgateConfig, jwksFile: string | undefined): TrustedKeys {
  const file = jwksFile ?? config.integrity.trustedJwksFile;
  if (file) {
    if (!existsSync(file)) throw Object.assign(new Error(`no JWKS at ${file}; pass the copy of the gateway's public keys you keep apart (from \`trailgate keys jwks\`)`), { code: 'TG_VERIFY_JWKS_MISSING' });
    return new TrustedKeys((JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys, file);
  }
  if (config.log.kind === 'kafka') throw Object.assign(new Error("a replay store holds no signing keys: pass --jwks with the gateways' public keys (`trailgate keys jwks` on each gateway, merged into one JWKS) or set integrity.trustedJwksFile"), { code: 'TG_VERIFY_JWKS_MISSING' });
  const own = join(keysDir(config.dataDir), 'jwks.json');
  return new TrustedKeys(readPublishedKeys(keysDir(config.dataDir)).keys, `${own} (the gateway's own key store, beside the log: pass --jwks with a copy kept apart to rule out replaced keys)`);
}

export async function runVerify(configFile: string | undefined, session: string | undefined, o: VerifyCommandOptions): Promise<void> {
  if (o.records) return runVerifyRecords(configFile, o.records, session, o);
  if (!session && !o.all) throw Object.assign(new Error('name a session or pass --all'), { code: 'TG_USAGE' });
  if (o.ledgerFrom && !o.all) throw Object.assign(new Error('--ledger-from compares the ledgers: pass it with --all'), { code: 'TG_USAGE' });
  const config = cliConfig(configFile);
  const log = openLogForReading(config);
  let report: VerifyReport;
  try {
    let sessionId: string | undefined;
    if (session) {
      sessionId = log.resolveSessionId(session) ?? undefined;
      if (!sessionId) throw Object.assign(new Error(`no single session matches '${session}'; list them with \`trailgate sessions\``), { code: 'TG_SESSION_NOT_FOUND' });
    }
    const ledgerCopy = o.ledgerFrom ? readLedgerCopy(o.ledgerFrom) : undefined;
    report = await verify({
      source: embeddedLogSource(log),
      trusted: trustedKeys(config, o.jwks),
      published: readPublishedKeys(keysDir(config.dataDir)).keys,
      summaryIntervalMs: config.integrity.summarySeconds * 1000,
      ...(sessionId ? { sessionId } : {}),
      ...(ledgerCopy ? { ledgerCopy } : {}),
    });
  } finally {
    log.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else print(report);
  process.exitCode = report.ok ? 0 : 1;
}

/** The ledgers as another machine holds them: a replay store, or any file of the embedded log's schema. */
function readLedgerCopy(file: string): LedgerCopy {
  if (!existsSync(file)) throw Object.assign(new Error(`no ledger copy at ${file}; pass a replay store (replay.store of a \`trailgate replay\` on Kafka) or another copy of the log`), { code: 'TG_VERIFY_LEDGER_COPY_MISSING' });
  const copy = new EmbeddedLog(file, { readonly: true });
  try {
    return { describe: file, entries: copy.readLedger() };
  } finally {
    copy.close();
  }
}

function print(r: VerifyReport): void {
  console.log(`source: ${r.source}\ntrusted keys: ${r.trust}`);
  for (const k of r.keys) console.log(`KEYS  ${k.kind}: ${printable(k.message, 400)}`);
  printTable(
    ['SESSION', 'STATUS', 'RECORDS', 'SIGNED', 'FIRST FAILURE'],
    r.sessions.map((s) => [s.sessionId, s.status, String(s.records), String(s.signedThrough), s.failure ? `${s.failure.kind} at seq ${s.failure.seq ?? '-'}: ${s.failure.message}` : '-']),
  );
  for (const s of r.sessions) {
    if (s.contentUnchecked && s.status === 'intact') console.log(`${s.sessionId}  intact (content of seq ${s.contentUnchecked.join(', ')} cut by the SIEM's field limit: links and signatures checked, the cut value's SHA-256 given)`);
  }
  for (const l of r.ledgers) console.log(`ledger ${printable(l.instance)}: ${l.entries} signed summaries, ${l.sessionsListed} sessions named${l.failure ? `; ${l.failure.kind} at entry ${l.failure.seq}: ${printable(l.failure.message, 400)}` : ', all present'}`);
  if (r.ledgerCopy) console.log(`ledgers compared with the copy in ${r.ledgerCopy}`);
  for (const u of r.unnamed) console.log(`UNLISTED  ${u.sessionId}: ${printable(u.failure.message, 400)}`);
  if (r.unlisted.length) console.log(`${r.unlisted.length} session(s) not yet named by a signed summary (opened since the last one)`);
  const bad = r.sessions.filter((s) => s.status !== 'intact').length;
  console.log(r.ok ? `OK: ${r.sessions.length} session(s) intact` : `FAILED: ${bad} of ${r.sessions.length} session(s) not intact${r.keys.length ? ', key set altered' : ''}${r.ledgers.some((l) => l.failure) ? ', ledger failed' : ''}${r.unnamed.length ? `, ${r.unnamed.length} session(s) named by no signed summary` : ''}`);
}

/** `trailgate verify --records FILE`: what a SIEM holds, checked against what the gateway signed. */
async function runVerifyRecords(configFile: string | undefined, file: string, session: string | undefined, o: VerifyCommandOptions): Promise<void> {
  if (!existsSync(file)) throw Object.assign(new Error(`no file ${file}; export the records from the SIEM as NDJSON (one forwarded event per line)`), { code: 'TG_VERIFY_RECORDS_MISSING' });
  // An analyst's machine may have no trailgate.yaml: the JWKS they were given is enough.
  const trusted = o.jwks && !configFile ? new TrustedKeys((JSON.parse(readFileSync(o.jwks, 'utf8')) as { keys: JWK[] }).keys, o.jwks) : trustedKeys(cliConfig(configFile), o.jwks);
  const { source, summary } = recordsFileSource(file);
  const ids = source.sessionIds();
  const sessionId = session ? ids.find((id) => id === session) ?? (ids.filter((id) => id.startsWith(session)).length === 1 ? ids.find((id) => id.startsWith(session)) : undefined) : undefined;
  if (session && !sessionId) throw Object.assign(new Error(`no single session in ${file} matches '${session}'`), { code: 'TG_SESSION_NOT_FOUND' });
  const report = await verify({ source, trusted, published: [], ...(sessionId ? { sessionId } : {}) });
  // An export holds no ledger: that is not a failure of the records.
  report.unlisted = [];
  const ok = report.ok && summary.conflicting.length === 0 && summary.records > 0;
  if (o.json) process.stdout.write(`${JSON.stringify({ ...report, ok, export: summary })}\n`);
  else {
    console.log(`read ${summary.lines} lines: ${summary.records} records, ${summary.duplicates} duplicate copies removed (same record id and content)`);
    if (summary.unreadable.length) console.log(`${summary.unreadable.length} line(s) hold no forwarded record (first: line ${summary.unreadable[0]})`);
    for (const id of summary.conflicting) console.log(`CONFLICT  record ${id} appears twice with different content: one copy is not what the gateway wrote`);
    for (const t of summary.truncated) console.log(`CUT  seq ${t.seq} of ${t.sessionId}: ${t.fields.map((f, i) => `${f} (full value SHA-256 ${t.sha256[i] || 'not given'})`).join(', ')} cut by the SIEM's field limit`);
    if (summary.records === 0) console.log('FAILED: the file holds no forwarded records');
    else print(report);
  }
  process.exitCode = ok ? 0 : 1;
}

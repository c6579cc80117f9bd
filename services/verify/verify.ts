import type { JWK } from 'jose';
import type { LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import { compareWithCopy, type LedgerCopy } from './ledger-copy.js';
import { checkPublishedKeys, TrustedKeys } from './trusted-keys.js';
import type { VerifySource } from './verify-source.js';
import { verifyLedger } from './verify-ledger.js';
import { verifySession } from './verify-session.js';
import type { LedgerVerdict, VerifyReport } from './verdict.js';

export interface VerifyOptions {
  source: VerifySource;
  trusted: TrustedKeys;
  /** The keys the gateway publishes beside its log; checked against their ids and the trusted set. */
  published: JWK[];
  /** One session, or every session plus the ledgers. */
  sessionId?: string;
  /** How often the gateways sign their ledger (integrity.summarySeconds); default 60 s. */
  summaryIntervalMs?: number;
  /** The gateways' ledgers as held off the machine, to find a ledger whose tail was cut. */
  ledgerCopy?: LedgerCopy;
  now?: Date;
}

function byInstance(entries: LedgerEntry[]): Map<string, LedgerEntry[]> {
  const out = new Map<string, LedgerEntry[]>();
  for (const e of entries) out.set(e.instance, [...(out.get(e.instance) ?? []), e]);
  for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
  return out;
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const ids = o.source.sessionIds();
  const known = new Set(ids);
  const exists = (sid: string) => known.has(sid);
  const others = (id: string) => () => ids.filter((x) => x !== id);
  const keys = await checkPublishedKeys(o.published, o.trusted);
  const sessions = [];
  for (const id of o.sessionId ? [o.sessionId] : ids) sessions.push(await verifySession(id, o.source.records(id), o.trusted, others(id), o.source.cutFields?.bind(o.source)));
  const ledgers: LedgerVerdict[] = [];
  let unlisted: string[] = [];
  const unnamed: VerifyReport['unnamed'] = [];
  if (!o.sessionId) {
    const local = byInstance(o.source.ledger());
    const copy = byInstance(o.ledgerCopy?.entries ?? []);
    const listed = new Set<string>();
    for (const instance of new Set([...local.keys(), ...copy.keys()])) {
      const entries = local.get(instance) ?? [];
      const copied = copy.get(instance) ?? [];
      let verdict = await verifyLedger(instance, entries, o.trusted, exists);
      if (!verdict.failure && o.ledgerCopy) {
        const failure = await compareWithCopy(instance, entries, copied, o.ledgerCopy.describe, o.trusted, exists);
        if (failure) verdict = { ...verdict, failure };
      }
      ledgers.push(verdict);
      for (const e of [...entries, ...copied]) for (const sid of e.opened) listed.add(sid);
    }
    // One interval until the next summary, one more for it to be signed and reach this log or store.
    const deadline = (o.now ?? new Date()).getTime() - 2 * (o.summaryIntervalMs ?? 60_000);
    for (const s of o.source.sessionStarts()) {
      if (listed.has(s.sessionId)) continue;
      if (Date.parse(s.startedAt) >= deadline) {
        unlisted.push(s.sessionId);
        continue;
      }
      unnamed.push({
        ...s,
        failure: { kind: 'unlisted', seq: null, message: `session ${s.sessionId} of instance '${s.instance}' started ${s.startedAt}, more than two summary intervals ago, and no signed summary names it: the ledger was cut or deleted, or the gateway could not sign it` },
      });
    }
    unlisted = unlisted.filter((id) => known.has(id));
  }
  const ok = keys.length === 0 && sessions.every((s) => s.status === 'intact') && ledgers.every((l) => !l.failure) && unnamed.length === 0;
  return { source: o.source.describe(), trust: o.trusted.origin, sessions, ledgers, keys, unlisted, unnamed, ...(o.ledgerCopy ? { ledgerCopy: o.ledgerCopy.describe } : {}), ok };
}

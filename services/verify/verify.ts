import type { JWK } from 'jose';
import { checkPublishedKeys, TrustedKeys } from './trusted-keys.js';
import type { VerifySource } from './verify-source.js';
import { verifyLedger } from './verify-ledger.js';
import { verifySession } from './verify-session.js';
import type { VerifyReport } from './verdict.js';

export interface VerifyOptions {
  source: VerifySource;
  trusted: TrustedKeys;
  /** The keys the gateway publishes beside its log; checked against their ids and the trusted set. */
  published: JWK[];
  /** One session, or every session plus the ledgers. */
  sessionId?: string;
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const ids = o.source.sessionIds();
  const known = new Set(ids);
  const others = (id: string) => () => ids.filter((x) => x !== id);
  const keys = await checkPublishedKeys(o.published, o.trusted);
  const sessions = [];
  for (const id of o.sessionId ? [o.sessionId] : ids) sessions.push(await verifySession(id, o.source.records(id), o.trusted, others(id)));
  const ledgers = [];
  let unlisted: string[] = [];
  if (!o.sessionId) {
    const byInstance = new Map<string, ReturnType<VerifySource['ledger']>>();
    for (const e of o.source.ledger()) byInstance.set(e.instance, [...(byInstance.get(e.instance) ?? []), e]);
    const listed = new Set<string>();
    for (const [instance, entries] of byInstance) {
      ledgers.push(await verifyLedger(instance, entries, o.trusted, (sid) => known.has(sid)));
      for (const e of entries) for (const sid of e.opened) listed.add(sid);
    }
    unlisted = ids.filter((id) => !listed.has(id));
  }
  const ok = keys.length === 0 && sessions.every((s) => s.status === 'intact') && ledgers.every((l) => !l.failure);
  return { source: o.source.describe(), trust: o.trusted.origin, sessions, ledgers, keys, unlisted, ok };
}

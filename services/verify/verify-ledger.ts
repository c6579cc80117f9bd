import type { LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import { LEDGER_TYP } from '../integrity/checkpoint-signer.js';
import { ledgerEntryHash } from '../integrity/session-ledger.js';
import type { TrustedKeys } from './trusted-keys.js';
import type { LedgerVerdict } from './verdict.js';

/** Verifies one instance's ledger (sequence, links, signatures) and that every session it names exists. */
export async function verifyLedger(instance: string, entries: LedgerEntry[], keys: TrustedKeys, exists: (sessionId: string) => boolean): Promise<LedgerVerdict> {
  const listed = entries.reduce((n, e) => n + e.opened.length, 0);
  const fail = (kind: 'ledger-broken' | 'session-missing' | 'bad-signature' | 'unknown-key', seq: number, message: string): LedgerVerdict => ({ instance, entries: entries.length, sessionsListed: listed, failure: { kind, seq, message } });
  let prev = '';
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i + 1) return fail('ledger-broken', i + 1, `ledger entry ${i + 1} of instance '${instance}' is missing`);
    if (e.prev !== prev || ledgerEntryHash(e.prev, e) !== e.hash) return fail('ledger-broken', e.seq, `ledger entry ${e.seq} of instance '${instance}' was changed or does not link to entry ${e.seq - 1}`);
    const check = await keys.check(e.jws, LEDGER_TYP);
    if (!check.ok) return fail(check.kind, e.seq, `ledger entry ${e.seq} of instance '${instance}': ${check.message}`);
    if (check.payload.instance !== instance || check.payload.seq !== e.seq || check.payload.hash !== e.hash) return fail('ledger-broken', e.seq, `ledger entry ${e.seq} of instance '${instance}' does not match its signature`);
    const gone = e.opened.find((id) => !exists(id));
    if (gone) return fail('session-missing', e.seq, `session ${gone}, named by ledger entry ${e.seq} of instance '${instance}' (${e.ts}), is not in the log: it was deleted`);
    prev = e.hash;
  }
  return { instance, entries: entries.length, sessionsListed: listed };
}

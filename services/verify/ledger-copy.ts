import type { LedgerEntry } from '../../connectors/embedded-log/embedded-log.js';
import type { TrustedKeys } from './trusted-keys.js';
import type { Failure } from './verdict.js';
import { verifyLedger } from './verify-ledger.js';

/** A copy of the gateways' ledgers held off the machine (a replay store fed from the Kafka ledger topic). */
export interface LedgerCopy {
  describe: string;
  entries: LedgerEntry[];
}

/**
 * Compares one instance's ledger with the copy held elsewhere. The copy must verify on its own; the
 * local ledger must then be the same chain and reach at least as far. A shorter one had its tail cut,
 * and the sessions named only in the cut entries are the ones a deletion would have hidden.
 */
export async function compareWithCopy(instance: string, local: LedgerEntry[], copy: LedgerEntry[], from: string, keys: TrustedKeys, exists: (sessionId: string) => boolean): Promise<Failure | null> {
  if (copy.length === 0) return null;
  const own = await verifyLedger(instance, copy, keys, () => true);
  if (own.failure) return { kind: 'ledger-broken', seq: own.failure.seq, message: `the copy of the ledger of instance '${instance}' in ${from} does not verify: ${own.failure.message}` };
  for (let i = 0; i < Math.min(local.length, copy.length); i++) {
    if (local[i]!.hash !== copy[i]!.hash) return { kind: 'ledger-broken', seq: i + 1, message: `ledger entry ${i + 1} of instance '${instance}' differs from the copy in ${from}` };
  }
  if (local.length >= copy.length) return null;
  const cut = copy.slice(local.length);
  const named = cut.flatMap((e) => e.opened);
  const gone = named.filter((id) => !exists(id));
  const last = copy[copy.length - 1]!.seq;
  return {
    kind: 'ledger-cut',
    seq: local.length + 1,
    message: `the ledger of instance '${instance}' ends at entry ${local.length}, the copy in ${from} holds entries through ${last}: entries ${local.length + 1}-${last} were cut (naming ${named.length} session(s)${gone.length ? `, ${gone.length} of them not in the log: ${gone.slice(0, 5).join(', ')}${gone.length > 5 ? ', ...' : ''}` : ''})`,
  };
}

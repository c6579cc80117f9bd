import { existsSync, readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { EmbeddedLog } from '../../connectors/embedded-log/embedded-log.js';
import { keysDir, readPublishedKeys } from '../integrity/signing-keys.js';
import { TrustedKeys } from '../verify/trusted-keys.js';
import type { SessionVerdict } from '../verify/verdict.js';
import { embeddedLogSource } from '../verify/verify-source.js';
import { verify } from '../verify/verify.js';
import type { IntegrityChecker, IntegrityVerdict } from './integrity.js';

export interface LogIntegrityOptions {
  dataDir: string;
  /** A JWKS kept apart from the log (integrity.trustedJwksFile); else the gateway's own published keys. */
  trustedJwksFile?: string | undefined;
}

/** `trailgate verify` for one session of the embedded log, as the replay UI shows it. */
export function embeddedLogIntegrity(log: EmbeddedLog, o: LogIntegrityOptions): IntegrityChecker {
  return {
    async verify(sessionId: string): Promise<IntegrityVerdict> {
      const published = readPublishedKeys(keysDir(o.dataDir)).keys;
      const trusted = trustedKeys(o, published);
      if (!trusted) return { status: 'unavailable', summary: `no trusted keys: ${o.trustedJwksFile ?? keysDir(o.dataDir)} holds none, so signatures cannot be checked` };
      const report = await verify({ source: embeddedLogSource(log), trusted, published, sessionId });
      const key = report.keys[0];
      if (key) return { status: 'failed', summary: key.message, code: `TG_VERIFY_${key.kind.toUpperCase().replace(/-/g, '_')}` };
      return toVerdict(report.sessions[0]!, trusted.origin);
    },
  };
}

function trustedKeys(o: LogIntegrityOptions, published: JWK[]): TrustedKeys | null {
  if (o.trustedJwksFile) {
    if (!existsSync(o.trustedJwksFile)) return null;
    return new TrustedKeys((JSON.parse(readFileSync(o.trustedJwksFile, 'utf8')) as { keys: JWK[] }).keys, o.trustedJwksFile);
  }
  return published.length ? new TrustedKeys(published, "the gateway's own key store beside the log") : null;
}

function toVerdict(s: SessionVerdict, trust: string): IntegrityVerdict {
  const f = s.failure;
  const code = f ? `TG_VERIFY_${f.kind.toUpperCase().replace(/-/g, '_')}` : undefined;
  const where = f?.seq !== null && f?.seq !== undefined ? { failedSeq: f.seq } : {};
  if (s.status === 'intact') return { status: 'ok', summary: `intact: ${s.records} records, signed through #${s.signedThrough} (trusted keys: ${trust})` };
  if (s.status === 'truncated') return { status: 'truncated', summary: `${f?.message ?? 'no signed end'}; intact and signed through #${s.signedThrough}`, ...where, ...(code ? { code } : {}) };
  return { status: 'failed', summary: `${f?.kind ?? 'tampered'}: ${f?.message ?? 'the record does not verify'}`, ...where, ...(code ? { code } : {}) };
}

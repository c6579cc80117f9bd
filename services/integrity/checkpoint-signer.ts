import { CompactSign } from 'jose';
import type { SigningKey } from './signing-keys.js';

export const CHECKPOINT_TYP = 'tg-checkpoint+jws';
export const LEDGER_TYP = 'tg-ledger+jws';

/** What a checkpoint signs: the head of one session's chain. */
export interface CheckpointClaims {
  v: 1;
  sid: string;
  seq: number;
  hash: string;
  final: boolean;
}

/** What a ledger entry signs: the head of one gateway instance's summary chain. */
export interface LedgerClaims {
  v: 1;
  instance: string;
  seq: number;
  hash: string;
}

/** Signs chain heads as compact JWS (EdDSA over Ed25519) with the gateway's current key. */
export class HeadSigner {
  private readonly encoder = new TextEncoder();

  constructor(private readonly key: SigningKey) {}

  get kid(): string {
    return this.key.kid;
  }

  sign(typ: typeof CHECKPOINT_TYP | typeof LEDGER_TYP, claims: CheckpointClaims | LedgerClaims): Promise<string> {
    return new CompactSign(this.encoder.encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'EdDSA', kid: this.key.kid, typ })
      .sign(this.key.privateKey);
  }
}

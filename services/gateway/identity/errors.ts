/** Why a CI token was refused; the code is stable for logs and tests, the message is for the person fixing the job. */
export type IdentityErrorCode =
  | 'TG_AUTH_NO_TOKEN'
  | 'TG_AUTH_MALFORMED'
  | 'TG_AUTH_EXPIRED'
  | 'TG_AUTH_NOT_YET_VALID'
  | 'TG_AUTH_ISSUED_IN_FUTURE'
  | 'TG_AUTH_TOKEN_REUSED'
  | 'TG_AUTH_AUDIENCE'
  | 'TG_AUTH_UNKNOWN_ISSUER'
  | 'TG_AUTH_SIGNATURE'
  | 'TG_AUTH_UNKNOWN_KEY'
  | 'TG_AUTH_ALGORITHM'
  | 'TG_AUTH_JWKS_UNAVAILABLE'
  | 'TG_AUTH_CLAIMS';

/** Messages never carry the token or its signature; they may quote claim and header values such as iss, aud or kid. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Renders a token-supplied value for a message: bounded length, control characters escaped. */
export function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const bounded = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return JSON.stringify(bounded).slice(1, -1);
}

/** Renders a list of values as `[a, b]`. */
export function shownList(values: readonly unknown[]): string {
  return `[${values.map(shown).join(', ')}]`;
}

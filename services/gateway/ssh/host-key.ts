import { createHash } from 'node:crypto';

/** OpenSSH key types that can appear in a known_hosts line or a .pub file. */
const KEY_TYPES = /^(ssh-ed25519|ssh-ed448|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** `SHA256:<unpadded base64>`, the form `ssh-keygen -lf` prints. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Reads a pinned host key as configuration gives it: an OpenSSH public key line (optionally with the
 * host names of a known_hosts line in front, and a comment after) or a `SHA256:` fingerprint.
 * Returns its fingerprint, the one thing the gateway compares.
 */
export function pinnedFingerprint(text: string): string {
  const value = text.trim();
  if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) return value.replace(/=$/, '');
  const words = value.split(/\s+/);
  const at = words.findIndex((w) => KEY_TYPES.test(w));
  const blob = at >= 0 ? words[at + 1] : undefined;
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    throw new Error('is neither an OpenSSH public key line (e.g. "ssh-ed25519 AAAA...") nor a SHA256: fingerprint');
  }
  const raw = Buffer.from(blob, 'base64');
  // The blob starts with its own key type; a line whose two disagree was pasted wrong.
  const inner = raw.length >= 4 ? raw.subarray(4, 4 + raw.readUInt32BE(0)).toString('latin1') : '';
  if (inner !== words[at]) throw new Error(`key data does not hold a ${words[at]} key`);
  return fingerprintOf(raw);
}

import { isAlnum, type Span } from './span.js';
import { afterLiteral, findTokensOfFormats, type TokenFormat } from './token-format.js';

// Cloud and SaaS credentials by their vendors' documented formats: each a literal prefix and a bounded run of one
// character class (token-format.ts), so a cell costs O(length).
//  - AWS access key id: "AKIA" (long-term) or "ASIA" (temporary, STS) + 16 upper-case alphanumerics, 20 in all
//    (AWS IAM User Guide, "Understanding unique ID prefixes").
//  - Google API key: "AIza" + 35 of [0-9A-Za-z_-], 39 in all (Google Cloud "API keys" documentation).
//  - Slack tokens: "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-" (bot, user, app, refresh, session, rotating)
//    and app-level "xapp-" (Slack API "Token types").
//  - Azure Storage account key in a connection string: "AccountKey=" + 64 bytes base64 (88 characters ending "==")
//    (Azure Storage "Configure a connection string").
//  - Azure SAS signature: "sig=" + URL-encoded base64 HMAC-SHA256 (32 bytes) (Azure Storage "Create a service SAS").

const upperOrDigit = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
const alnumDashUnderscore = (c: number): boolean => isAlnum(c) || c === 45 || c === 95;
const alnumDash = (c: number): boolean => isAlnum(c) || c === 45;
const base64 = (c: number): boolean => isAlnum(c) || c === 43 || c === 47;
const sasChar = (c: number): boolean => base64(c) || c === 37;
/** b, p, a, r, e, s: the letter after "xox". */
const SLACK_KINDS = new Set([98, 112, 97, 114, 101, 115]);

const FORMATS: readonly TokenFormat[] = [
  { literal: 'AKIA', lead: 0, head: afterLiteral('AKIA'), notBefore: isAlnum, body: upperOrDigit, min: 16, max: 16, notAfter: isAlnum },
  { literal: 'ASIA', lead: 0, head: afterLiteral('ASIA'), notBefore: isAlnum, body: upperOrDigit, min: 16, max: 16, notAfter: isAlnum },
  { literal: 'AIza', lead: 0, head: afterLiteral('AIza'), notBefore: alnumDashUnderscore, body: alnumDashUnderscore, min: 35, max: 35, notAfter: alnumDashUnderscore },
  // xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-
  { literal: 'xox', lead: 0, head: (t, at) => (SLACK_KINDS.has(t.charCodeAt(at + 3)) && t.charCodeAt(at + 4) === 45 ? at + 5 : -1), notBefore: alnumDash, body: alnumDash, min: 10, max: 250, notAfter: alnumDash },
  { literal: 'xapp-', lead: 0, head: afterLiteral('xapp-'), notBefore: alnumDash, body: alnumDash, min: 10, max: 250, notAfter: alnumDash },
  { literal: 'AccountKey=', lead: 0, head: afterLiteral('AccountKey='), notBefore: null, body: base64, min: 86, max: 86, tail: '==', notAfter: null, bodyOnly: true },
  { literal: 'sig=', lead: 1, head: (t, at) => (t.charCodeAt(at - 1) === 63 || t.charCodeAt(at - 1) === 38 ? at + 4 : -1), notBefore: null, body: sasChar, min: 43, max: 60, notAfter: sasChar, bodyOnly: true, accept: isSasSignature },
];

function isSasSignature(encoded: string): boolean {
  try {
    const b64 = decodeURIComponent(encoded);
    return /^[A-Za-z0-9+/]{43}=$/.test(b64);
  } catch {
    return false;
  }
}

/** Cloud access keys and SaaS tokens. Cost: seven indexOf passes (most cells hold no literal), and one bounded run per candidate. */
export function findCloudTokens(text: string): Span[] {
  return findTokensOfFormats(text, FORMATS);
}

import { spansOf, type Span } from './span.js';

// Cloud and SaaS credentials by their vendors' documented formats. Every pattern is a literal prefix followed by
// bounded character classes, so each start position costs O(1) and a cell O(length) (no backtracking blow-up).
//  - AWS access key id: "AKIA" (long-term) or "ASIA" (temporary, STS) + 16 upper-case alphanumerics, 20 in all
//    (AWS IAM User Guide, "Understanding unique ID prefixes").
//  - Google API key: "AIza" + 35 of [0-9A-Za-z_-], 39 in all (Google Cloud "API keys" documentation).
//  - Slack tokens: "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-" (bot, user, app, refresh, session, rotating)
//    and app-level "xapp-" (Slack API "Token types").
//  - Azure Storage account key in a connection string: "AccountKey=" + 64 bytes base64 (88 characters ending "==")
//    (Azure Storage "Configure a connection string").
//  - Azure SAS signature: "sig=" + URL-encoded base64 HMAC-SHA256 (32 bytes) (Azure Storage "Create a service SAS").
const PATTERNS: ReadonlyArray<{ literal: string; pattern: RegExp; group?: number; accept?: (value: string) => boolean }> = [
  { literal: 'KIA', pattern: /(?<![A-Za-z0-9])AKIA[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  { literal: 'SIA', pattern: /(?<![A-Za-z0-9])ASIA[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  { literal: 'AIza', pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g },
  { literal: 'xox', pattern: /(?<![A-Za-z0-9-])xox[bpares]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g },
  { literal: 'xapp-', pattern: /(?<![A-Za-z0-9-])xapp-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g },
  { literal: 'AccountKey=', pattern: /AccountKey=([A-Za-z0-9+/]{86}==)/dg, group: 1 },
  { literal: 'sig=', pattern: /[?&]sig=([A-Za-z0-9%+/]{43,60})(?![A-Za-z0-9%+/])/dg, group: 1, accept: isSasSignature },
];

function isSasSignature(encoded: string): boolean {
  try {
    const b64 = decodeURIComponent(encoded);
    return /^[A-Za-z0-9+/]{43}=$/.test(b64);
  } catch {
    return false;
  }
}

/** Cloud access keys and SaaS tokens. Cost: seven indexOf passes, and a linear regex pass per literal found. */
export function findCloudTokens(text: string): Span[] {
  const out: Span[] = [];
  // indexOf of the literal first: most cells hold none, and a miss costs one fast pass instead of a regex run.
  for (const { literal, pattern, group, accept } of PATTERNS) if (text.includes(literal)) out.push(...spansOf(text, pattern, accept, group));
  return out;
}

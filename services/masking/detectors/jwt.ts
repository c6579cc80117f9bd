import { isBase64Url, scanWork, type Span } from './span.js';

// JSON Web Tokens in compact JWS form (RFC 7515 §7.1): three base64url parts joined by '.', the first decoding to a
// JSON object with a string "alg" (RFC 7515 §4.1.1). A header always starts '{"' = base64url "eyJ". Candidates start
// only where a base64url run starts and the scan resumes after the candidate's run, so runs are read once: O(length).
const MAX_HEADER = 4096;

/** JWTs (JWS compact serialization; the signature may be empty for alg "none"). Cost: one pass plus one header decode per "eyJ" at a run start. */
export function findJwts(text: string): Span[] {
  const out: Span[] = [];
  let from = 0;
  for (let at = text.indexOf('eyJ', from); at !== -1; at = text.indexOf('eyJ', from)) {
    if (at > 0 && (isBase64Url(text.charCodeAt(at - 1)) || text.charCodeAt(at - 1) === 46)) {
      from = at + 3;
      continue;
    }
    scanWork.candidates++;
    const headerEnd = runEnd(text, at);
    from = headerEnd;
    if (text.charCodeAt(headerEnd) !== 46) continue;
    const payloadEnd = runEnd(text, headerEnd + 1);
    from = payloadEnd;
    if (payloadEnd === headerEnd + 1 || text.charCodeAt(payloadEnd) !== 46) continue;
    const signatureEnd = runEnd(text, payloadEnd + 1);
    from = signatureEnd;
    if (text.charCodeAt(signatureEnd) === 46) continue; // four or more parts: a JWE or not a token
    if (!headerHasAlg(text.slice(at, headerEnd))) continue;
    out.push({ start: at, end: signatureEnd });
  }
  return out;
}

function runEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBase64Url(text.charCodeAt(i))) i++;
  scanWork.reads += i - from + 1;
  return i;
}

function headerHasAlg(part: string): boolean {
  if (part.length > MAX_HEADER) return false;
  scanWork.reads += 2 * part.length; // decoded, then parsed
  try {
    const header: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

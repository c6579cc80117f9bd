import { scanWork, type Span } from './span.js';

// PEM private keys (RFC 7468 §10-11: "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"; OpenSSL's "RSA/EC/DSA PRIVATE KEY";
// OpenSSH's "OPENSSH PRIVATE KEY"). The hit runs from the BEGIN line through the next END line; a key cut short
// (no END) is masked to the end of its base64 body. The next END is found by a cursor that only moves forward and
// labels are read within 45 characters, so each character is read O(1) times: a cell costs O(length).
const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
const LABEL_MAX = 40;

function isBodyChar(code: number): boolean {
  // base64, whitespace, the "\n" escapes a SQL literal or JSON string carries, and RFC 1421 headers (Proc-Type: 4,ENCRYPTED).
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 43 || code === 47 || code === 61 ||
    code === 32 || code === 9 || code === 10 || code === 13 || code === 92 || code === 58 || code === 44;
}

/** The "-----" closing a label that starts at `from`, within LABEL_MAX characters; -1 if none. */
function labelEnd(text: string, from: number): number {
  scanWork.reads += LABEL_MAX + DASHES.length;
  const i = text.slice(from, from + LABEL_MAX + DASHES.length).indexOf(DASHES);
  return i === -1 ? -1 : from + i;
}

/** PEM private key blocks. Cost: forward-only indexOf passes for BEGIN and END. */
export function findPrivateKeys(text: string): Span[] {
  const out: Span[] = [];
  let from = 0;
  let nextEnd = -2; // -2: not searched yet; -1: no END after the cursor
  for (let at = text.indexOf(BEGIN, from); at !== -1; at = text.indexOf(BEGIN, from)) {
    scanWork.candidates++;
    const labelStart = at + BEGIN.length;
    const close = labelEnd(text, labelStart);
    if (close === -1 || !text.slice(labelStart, close).endsWith('PRIVATE KEY')) {
      from = labelStart;
      continue;
    }
    const bodyStart = close + DASHES.length;
    if (nextEnd === -2 || (nextEnd !== -1 && nextEnd < bodyStart)) {
      nextEnd = text.indexOf(END, bodyStart);
      scanWork.reads += (nextEnd === -1 ? text.length : nextEnd) - bodyStart; // a forward-only cursor
    }
    const endClose = nextEnd === -1 ? -1 : labelEnd(text, nextEnd + END.length);
    const nextBegin = text.indexOf(BEGIN, bodyStart);
    scanWork.reads += (nextBegin === -1 ? text.length : nextBegin) - bodyStart;
    if (endClose !== -1 && (nextBegin === -1 || nextBegin > nextEnd)) {
      out.push({ start: at, end: endClose + DASHES.length });
      from = endClose + DASHES.length;
      continue;
    }
    let i = bodyStart;
    while (i < text.length && isBodyChar(text.charCodeAt(i))) i++;
    scanWork.reads += i - bodyStart;
    out.push({ start: at, end: i });
    from = Math.max(i, labelStart);
  }
  return out;
}

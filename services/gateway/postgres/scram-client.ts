import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/**
 * Most PBKDF2 iterations a target may ask for (PostgreSQL's default is 4096): each costs a thread of the
 * shared pool for ~1 µs, so 2^31 would hold one for half an hour and four such targets would stall the gateway.
 */
export const MAX_SCRAM_ITERATIONS = 10_000_000;

/** SCRAM-SHA-256 client side (RFC 5802, RFC 7677) as PostgreSQL speaks it: user name comes from the startup message. */
export class ScramClient {
  readonly mechanism = 'SCRAM-SHA-256';
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly clientFirstBare = `n=,r=${this.clientNonce}`;
  private serverSignature: Buffer | null = null;

  constructor(private readonly password: string) {}

  initialResponse(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** Answers the server-first message with the client-final message. */
  async continue(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1) throw new Error('target sent a malformed SCRAM server-first message');
    if (!nonce.startsWith(this.clientNonce)) throw new Error('target SCRAM nonce does not extend the client nonce');
    if (iterations > MAX_SCRAM_ITERATIONS) {
      throw new Error(`target asks for ${iterations} SCRAM iterations, more than the gateway's limit of ${MAX_SCRAM_ITERATIONS}; lower scram_iterations on the target and set the role's password again`);
    }
    const salted = await saltedPassword(this.password, salt, iterations);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const finalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${finalWithoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${finalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server's proof that it knows the password too. */
  finish(serverFinal: string): void {
    const attrs = parseAttributes(serverFinal);
    if (attrs.has('e')) throw new Error(`target refused SCRAM authentication: ${attrs.get('e')}`);
    const v = attrs.get('v');
    const expected = this.serverSignature;
    if (!v || !expected) throw new Error('target sent a malformed SCRAM server-final message');
    const got = Buffer.from(v, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new Error('target SCRAM server signature does not match: it does not know the password');
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

// PBKDF2 is deliberately slow; caching by (password, salt, iterations) keeps reconnects cheap.
const saltedCache = new Map<string, Promise<Buffer>>();

function saltedPassword(password: string, salt: string, iterations: number): Promise<Buffer> {
  const key = createHash('sha256').update(`${password}\0${salt}\0${iterations}`).digest('base64');
  let hit = saltedCache.get(key);
  if (!hit) {
    hit = pbkdf2Async(password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    if (saltedCache.size > 256) saltedCache.clear();
    saltedCache.set(key, hit);
    hit.catch(() => saltedCache.delete(key));
  }
  return hit;
}

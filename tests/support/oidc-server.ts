/**
 * A local stand-in for an OIDC provider on 127.0.0.1 (the real ones are SaaS or run by the customer):
 * discovery document, JWKS endpoint, key rotation and outage on demand, and an authorization-code
 * flow with PKCE for people signing in to the replay UI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export class FakeOidcIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Requests served per path, to assert caching and rate limits. */
  readonly hits = { discovery: 0, jwks: 0 };
  /** Milliseconds every discovery and JWKS answer is held back: an issuer that is slow, not down. */
  delayMs = 0;
  /** Requests of the sign-in flow for people. */
  readonly signInHits = { authorize: 0, token: 0 };
  /** The person the authorization endpoint signs in (it asks nothing: the stand-in's user has already consented). */
  person: Record<string, unknown> = { sub: 'person-1', email: 'alice@example.com', groups: ['replay-viewers'] };
  /** Registered clients: id, secret (absent for public clients) and redirect URIs. */
  readonly clients = new Map<string, { secret?: string; redirectUris: string[] }>();
  /** Why the last token request was refused, for assertions. */
  lastTokenError = '';
  private readonly codes = new Map<string, { clientId: string; redirectUri: string; challenge: string; nonce?: string; claims: Record<string, unknown> }>();
  private readonly server: Server;
  private readonly signers = new Map<string, PrivateKey>();
  private published: JWK[] = [];
  private current = '';

  private constructor(server: Server) {
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.issuer = `http://127.0.0.1:${port}`;
    this.jwksUrl = `${this.issuer}/oauth/discovery/keys`;
  }

  static async start(): Promise<FakeOidcIssuer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeOidcIssuer(server);
    server.on('request', (req, res) => {
      const path = new URL(req.url ?? '/', fake.issuer).pathname;
      if (path === '/authorize') return fake.authorize(req, res);
      if (path === '/token') return void fake.token(req, res);
      const body =
        req.url === '/.well-known/openid-configuration'
          ? (fake.hits.discovery++,
            {
              issuer: fake.issuer,
              jwks_uri: fake.jwksUrl,
              id_token_signing_alg_values_supported: ['RS256'],
              authorization_endpoint: `${fake.issuer}/authorize`,
              token_endpoint: `${fake.issuer}/token`,
              response_types_supported: ['code'],
              subject_types_supported: ['public'],
              code_challenge_methods_supported: ['S256'],
              token_endpoint_auth_methods_supported: ['client_secret_post', 'none'],
            })
          : req.url === '/oauth/discovery/keys'
            ? (fake.hits.jwks++, { keys: fake.published })
            : undefined;
      const answer = () => res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: 'not found' }));
      if (fake.delayMs > 0) setTimeout(answer, fake.delayMs).unref();
      else answer();
    });
    await fake.rotate();
    return fake;
  }

  get kid(): string {
    return this.current;
  }

  /** Replaces the published key with a new one, as an issuer does when it rotates; returns the new kid. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    this.signers.set(kid, privateKey);
    this.published = [{ ...jwk, kid, alg: 'RS256', use: 'sig' }];
    this.current = kid;
    return kid;
  }

  /** Signs claims with the current key, or an earlier one by kid. */
  async mint(claims: Record<string, unknown>, kid = this.current): Promise<string> {
    const key = this.signers.get(kid);
    if (!key) throw new Error(`no key ${kid}`);
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: this.issuer, iat, exp: iat + 300, ...claims }).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
  }

  /** Authorization endpoint: signs `person` in at once and sends the browser back with a code. */
  private authorize(req: IncomingMessage, res: ServerResponse): void {
    this.signInHits.authorize++;
    const q = new URL(req.url ?? '/', this.issuer).searchParams;
    const client = this.clients.get(q.get('client_id') ?? '');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!client || !client.redirectUris.includes(redirectUri) || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid authorization request');
      return;
    }
    const code = randomBytes(16).toString('base64url');
    this.codes.set(code, { clientId: q.get('client_id')!, redirectUri, challenge: q.get('code_challenge')!, ...(q.get('nonce') ? { nonce: q.get('nonce')! } : {}), claims: { ...this.person } });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    if (q.get('state')) back.searchParams.set('state', q.get('state')!);
    back.searchParams.set('iss', this.issuer);
    res.writeHead(302, { location: back.href }).end();
  }

  /** Token endpoint: checks the code, the client, the redirect URI and the PKCE verifier, then issues an ID token. */
  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.signInHits.token++;
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const form = new URLSearchParams(raw);
    const refuse = (why: string) => {
      this.lastTokenError = why;
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: why }));
    };
    const grant = this.codes.get(form.get('code') ?? '');
    this.codes.delete(form.get('code') ?? '');
    if (!grant) return refuse('unknown or used code');
    const client = this.clients.get(form.get('client_id') ?? '');
    if (!client || form.get('client_id') !== grant.clientId) return refuse('wrong client');
    if (client.secret !== undefined && form.get('client_secret') !== client.secret) return refuse('wrong client secret');
    if (form.get('redirect_uri') !== grant.redirectUri) return refuse('wrong redirect_uri');
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return refuse('PKCE verifier does not match');
    const idToken = await this.mint({ aud: grant.clientId, ...(grant.nonce ? { nonce: grant.nonce } : {}), ...grant.claims });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken }));
  }

  /** Every kid it has signed with, the current one included. */
  kids(): string[] {
    return [...this.signers.keys()];
  }

  /** Answers again on the same address after stop(): an issuer back from an outage. */
  async listenAgain(): Promise<void> {
    const { port } = new URL(this.issuer);
    await new Promise<void>((resolve) => this.server.listen(Number(port), '127.0.0.1', resolve));
  }

  /** Stops answering: the port refuses connections from now on. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** A loopback URL nobody listens on: bind a port, then release it. */
export async function deadUrl(path = '/'): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

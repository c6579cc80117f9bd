/** A real OIDC issuer on 127.0.0.1: discovery document, JWKS endpoint, key rotation and outage on demand. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export class FakeOidcIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Requests served per path, to assert caching and rate limits. */
  readonly hits = { discovery: 0, jwks: 0 };
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
      const body =
        req.url === '/.well-known/openid-configuration'
          ? (fake.hits.discovery++, { issuer: fake.issuer, jwks_uri: fake.jwksUrl, id_token_signing_alg_values_supported: ['RS256'] })
          : req.url === '/oauth/discovery/keys'
            ? (fake.hits.jwks++, { keys: fake.published })
            : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: 'not found' }));
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

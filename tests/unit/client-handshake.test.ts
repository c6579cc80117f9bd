import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ClientHandshake } from '../../services/gateway/postgres/client-handshake.js';
import { ProtocolError } from '../../services/gateway/postgres/protocol.js';
import { RawPgClient } from '../support/raw-pg.js';

/** Runs one handshake on a loopback connection; `requireTls` stands for a client that is not on loopback. */
async function handshake(requireTls: boolean, client: (raw: RawPgClient) => void) {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const raw = await RawPgClient.connect((server.address() as net.AddressInfo).port);
  const socket = await accepted;
  const hs = new ClientHandshake(socket, { tlsContext: null, requireTls, maxMessageBytes: 1 << 20 });
  client(raw);
  try {
    return await hs.run();
  } finally {
    raw.end();
    socket.destroy();
    server.close();
  }
}

describe('client handshake', () => {
  it('refuses a plaintext startup when TLS is required, before asking for the token', async () => {
    await assert.rejects(
      handshake(true, (raw) => raw.startup({ user: 'ci', database: 'app' })),
      (e: ProtocolError) => e instanceof ProtocolError && e.code === 'TG_PG_TLS_REQUIRED' && e.sqlstate === '28000' && /sslmode=require/.test(e.message),
    );
  });

  it('answers an SSL request with N when no certificate is configured, then asks for the token', async () => {
    const result = await handshake(false, (raw) => {
      const ssl = Buffer.alloc(8);
      ssl.writeInt32BE(8, 0);
      ssl.writeInt32BE(80877103, 4);
      raw.send(ssl);
      raw.startup({ user: 'ci', database: 'app' });
      raw.password('the-token');
    });
    assert.equal(result.kind, 'startup');
    assert.equal(result.kind === 'startup' && result.password, 'the-token');
    assert.equal(result.kind === 'startup' && result.tls, false);
  });

  it('keeps messages pipelined behind the password for the relay', async () => {
    const result = await handshake(false, (raw) => {
      raw.startup({ user: 'ci', database: 'app' });
      raw.send(Buffer.concat([raw.message('p', Buffer.from('tok\0')), raw.message('Q', Buffer.from('select 1\0'))]));
    });
    assert.equal(result.kind, 'startup');
    if (result.kind !== 'startup') return;
    const [q] = result.framer.messages();
    assert.equal(q?.type, 0x51);
  });
});

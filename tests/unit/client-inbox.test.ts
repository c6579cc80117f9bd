import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientInbox } from '../../services/gateway/postgres/client-inbox.js';
import type { FrontendMessage } from '../../services/gateway/postgres/frontend-framer.js';

function sync(n: number): FrontendMessage[] {
  return Array.from({ length: n }, () => ({ type: 0x53, body: Buffer.alloc(0), raw: Buffer.from('S\0\0\0\x04', 'latin1') }));
}

function socket(): { paused: boolean; pause(): void; resume(): void } {
  return { paused: false, pause() { this.paused = true; }, resume() { this.paused = false; } };
}

describe('client inbox', () => {
  it('pauses the client at the limit instead of queueing more', () => {
    const client = socket();
    const inbox = new ClientInbox(client, () => true, { messages: 100, bytes: 1 << 20 });
    inbox.push(sync(60));
    assert.equal(client.paused, false);
    inbox.push(sync(60));
    assert.equal(client.paused, true);
    assert.equal(inbox.isPaused, true);
    assert.equal(inbox.pauses, 1);
    assert.equal(inbox.highWater, 120);
  });

  it('counts bytes too, so a few large messages also pause it', () => {
    const client = socket();
    const inbox = new ClientInbox(client, () => true, { messages: 1000, bytes: 1000 });
    inbox.push([{ type: 0x51, body: Buffer.alloc(995), raw: Buffer.alloc(1000) }]);
    assert.equal(client.paused, true);
  });

  it('resumes once the relay has handled what it took, in order', () => {
    const client = socket();
    const inbox = new ClientInbox(client, () => true, { messages: 10, bytes: 1 << 20 });
    const first = sync(12);
    inbox.push(first);
    assert.equal(client.paused, true);
    assert.equal(inbox.take(), first);
    assert.equal(inbox.length, 0);
    inbox.settled();
    assert.equal(client.paused, false);
    assert.equal(inbox.isPaused, false);
  });

  it('stays paused while the target pushes back', () => {
    const client = socket();
    let targetFull = true;
    const inbox = new ClientInbox(client, () => !targetFull, { messages: 10, bytes: 1 << 20 });
    inbox.push(sync(10));
    inbox.take();
    inbox.settled();
    assert.equal(client.paused, true);
    targetFull = false;
    inbox.settled();
    assert.equal(client.paused, false);
  });
});

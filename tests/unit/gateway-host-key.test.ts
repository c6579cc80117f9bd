import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateOpenSshEd25519 } from '../../services/gateway/ssh/openssh-ed25519.js';
import { loadOrCreateHostKey } from '../../services/gateway/ssh/gateway-host-key.js';

/** The public key's first byte: 0 in 1 of 256 keys, the case ssh2's own generator gets wrong. */
function firstPublicByte(publicLine: string): number {
  const blob = Buffer.from(publicLine.split(' ')[1]!, 'base64');
  return blob[4 + 'ssh-ed25519'.length + 4]!;
}

describe('gateway SSH host key', () => {
  it('generates keys that ssh2 and OpenSSH both read, including those whose public key starts with a zero byte', () => {
    let zeroLed = 0;
    // 4,000 keys hold a zero-led public key with probability 1 - (255/256)^4000 > 0.999999.
    for (let i = 0; i < 4000; i++) {
      const pair = generateOpenSshEd25519('trailgate-gateway');
      const parsed = ssh2.utils.parseKey(pair.private);
      assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed), `key ${i} is refused by ssh2`);
      assert.equal(`${parsed.type} ${parsed.getPublicSSH().toString('base64')} trailgate-gateway`, pair.public);
      if (firstPublicByte(pair.public) === 0) zeroLed++;
      if (zeroLed > 0 && i >= 200) break;
    }
    assert.ok(zeroLed > 0, 'no zero-led key among those generated');
  });

  it('is the key ssh-keygen derives the same public key and fingerprint from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-hostkey-'));
    try {
      const key = loadOrCreateHostKey(undefined, dir);
      assert.equal(readFileSync(`${key.file}.pub`, 'utf8').trim(), `${key.publicKey} trailgate-gateway`);
      const derived = execFileSync('ssh-keygen', ['-y', '-f', key.file], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
      assert.equal(derived, key.publicKey);
      const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', key.file], { encoding: 'utf8' }).split(' ')[1];
      assert.equal(fingerprint, key.fingerprint);
      // A second start reads the same key rather than making a new one.
      assert.equal(loadOrCreateHostKey(undefined, dir).fingerprint, key.fingerprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a broken key file with the way to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-hostkey-'));
    try {
      const file = join(dir, 'broken');
      writeFileSync(file, 'not a key');
      assert.throws(() => loadOrCreateHostKey(file, dir), /TG_CONFIG_INVALID: ssh.hostKeyFile .* is not a usable private key: give an unencrypted OpenSSH/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** What an SSH request needs, and when the session's rules give it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkExec, checkRight, parseScpCommand, type SshGrant } from '../../services/gateway/policy/ssh-policy.js';
import { fingerprintOf, pinnedFingerprint } from '../../services/gateway/ssh/host-key.js';
import { validateConfig } from '../../services/config/load.js';
import { decide, explain } from '../../services/gateway/policy/claim-rules.js';
import type { JobIdentity } from '../../events/index.js';

const grant = (...matched: SshGrant['matched']): SshGrant => ({ rights: [...new Set(matched.flatMap((m) => m.rights))], matched });

describe('exec command patterns', () => {
  const g = grant({ rule: 'deploy', rights: ['exec'], commands: ['./deploy.sh *', 'systemctl restart app-?', 'tar -C /srv -xzf **'] });

  for (const command of ['./deploy.sh v1.2.3', 'systemctl restart app-1', 'tar -C /srv -xzf /tmp/release/app.tgz']) {
    it(`allows ${JSON.stringify(command)}`, () => {
      assert.deepEqual(checkExec(g, command).decision, { outcome: 'allowed', needs: ['exec'], rules: ['deploy'] });
    });
  }

  for (const command of ['./deploy.sh v1; rm -rf /', './deploy.sh $(id)', './deploy.sh `id`', './deploy.sh a && b', './deploy.sh a > /etc/x', './deploy.sh a\nid', './deploy.sh ../x/y', 'systemctl restart app-10']) {
    it(`refuses ${JSON.stringify(command)}`, () => {
      const d = checkExec(g, command);
      assert.equal(d.decision.outcome, 'denied');
      assert.match(d.reason!, /matches none of the exec patterns of rule 'deploy'/);
    });
  }

  it('lets a pattern name a metacharacter literally', () => {
    assert.equal(checkExec(grant({ rule: 'r', rights: ['exec'], commands: ['make -C /srv build && make -C /srv install'] }), 'make -C /srv build && make -C /srv install').decision.outcome, 'allowed');
  });

  it('allows any command to a rule without patterns, and none without exec', () => {
    assert.equal(checkExec(grant({ rule: 'any', rights: ['exec'] }), 'anything; at all').decision.outcome, 'allowed');
    assert.equal(checkExec(grant({ rule: 'files', rights: ['sftp-read'] }), 'id').reason, 'no rule grants exec');
  });
});

describe('legacy scp as a file right', () => {
  it('reads the server side of scp -O', () => {
    assert.deepEqual(parseScpCommand('scp -v -r -p -t /srv/app'), { direction: 'upload', path: '/srv/app', recursive: true });
    assert.deepEqual(parseScpCommand('scp -f /var/log/app.log'), { direction: 'download', path: '/var/log/app.log', recursive: false });
    assert.equal(parseScpCommand('scp -t /srv; id'), null);
    assert.equal(parseScpCommand('scp -t $(id)'), null);
    assert.equal(parseScpCommand('scp /a /b'), null);
  });

  it('needs sftp-write to upload and sftp-read to download', () => {
    const reader = grant({ rule: 'r', rights: ['sftp-read'] });
    assert.deepEqual(checkExec(reader, 'scp -f /x').decision, { outcome: 'allowed', needs: ['sftp-read'], rules: ['r'] });
    assert.deepEqual(checkExec(reader, 'scp -t /x').decision, { outcome: 'denied', needs: ['exec', 'sftp-write'], missing: ['exec', 'sftp-write'] });
  });

  it('counts all as every SSH right', () => {
    assert.equal(checkRight(grant({ rule: 'a', rights: ['all'] }), 'forward-remote').outcome, 'allowed');
  });
});

describe('claim rules on SSH targets', () => {
  const identity: JobIdentity = { issuer: 'i', issuerName: 'gh', profile: 'github', subject: 's', expiresAt: '', ci: { repository: 'acme/web' } };
  const rules = validateConfig({
    policy: {
      rules: [
        { name: 'db', repository: 'acme/web', targets: ['*'], rights: ['read', 'write'] },
        { name: 'hosts', repository: 'acme/web', targets: ['web-*'], rights: ['exec', 'sftp-write', 'read'], commands: ['./deploy.sh *'] },
      ],
    },
  }).policy.rules;

  it('keeps only the rights of the target kind', () => {
    const d = decide(rules, identity, 'web-1', 'ssh');
    assert.deepEqual(d.rights, ['exec', 'sftp-write']);
    assert.deepEqual(d.matched, [{ rule: 'hosts', rights: ['exec', 'sftp-write'], commands: ['./deploy.sh *'] }]);
    assert.match(d.notMatched[0]!.reason, /grants no right that applies to ssh targets/);
    assert.match(explain(d), /exec only: '\.\/deploy\.sh \*'/);
  });

  it('leaves Postgres decisions as they were', () => {
    const d = decide(rules, identity, 'web-1');
    assert.deepEqual(d.rights, ['read', 'write']);
    assert.deepEqual(d.matched.map((m) => m.rule), ['db', 'hosts']);
    assert.deepEqual(d.matched[1], { rule: 'hosts', rights: ['read'] });
  });
});

describe('pinned host keys and SSH targets in configuration', () => {
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 9)]);
  const line = `ssh-ed25519 ${blob.toString('base64')}`;

  it('reads a public key line, a known_hosts line and a fingerprint alike', () => {
    const fp = fingerprintOf(blob);
    assert.equal(pinnedFingerprint(line), fp);
    assert.equal(pinnedFingerprint(`[db.internal]:2222,10.0.0.5 ${line} root@db`), fp);
    assert.equal(pinnedFingerprint(fp), fp);
    assert.throws(() => pinnedFingerprint('ssh-rsa ' + blob.toString('base64')), /does not hold a ssh-rsa key/);
    assert.throws(() => pinnedFingerprint('not a key'), /neither an OpenSSH public key line/);
  });

  it('validates an SSH target and names the key of a problem', () => {
    const config = validateConfig({ targets: { web: { kind: 'ssh', host: 'web.internal', user: 'deploy', privateKey: { env: 'KEY' }, hostKey: line } } });
    assert.equal(config.targets.web?.kind, 'ssh');
    assert.equal(config.targets.web?.kind === 'ssh' && config.targets.web.port, 22);
    assert.throws(() => validateConfig({ targets: { web: { kind: 'ssh', host: 'web.internal', user: 'deploy', hostKey: line } } }), /targets\.web\.privateKey/);
    assert.throws(() => validateConfig({ targets: { db: { host: 'db', database: 'x', user: 'u', hostKey: line } } }), /targets\.db/);
    assert.throws(() => validateConfig({ policy: { rules: [{ name: 'x', subject: '*', targets: ['*'], rights: ['sudo'] }] } }), /policy\.rules\.0\.rights\.0/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MaskingConfig } from '../../services/masking/config.js';
import { compileRule, partial } from '../../services/masking/strategies.js';
import { TargetMasking } from '../../services/masking/target-masking.js';
import { viewColumnOrigins } from '../../services/masking/view-origins.js';

describe('masking rules', () => {
  it('partial keeps the last N characters, by character, not byte', () => {
    assert.equal(partial(Buffer.from('4111111111111111'), 4).toString(), '************1111');
    assert.equal(partial(Buffer.from('ab'), 4).toString(), 'ab');
    assert.equal(partial(Buffer.from('zoë@exämple'), 3).toString(), '********ple');
  });

  it('hmac: equal in, equal out within a target; unrelated across targets; the key is generated once, private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-mask-'));
    try {
      const config = MaskingConfig.parse({ rules: [{ match: 'public.cards.pan', strategy: 'hmac' }] });
      const a = new TargetMasking('a', config, dir).rules[0]!.mask!;
      const a2 = new TargetMasking('a', config, dir).rules[0]!.mask!;
      const b = new TargetMasking('b', config, dir).rules[0]!.mask!;
      const pan = Buffer.from('4111111111111111');
      assert.equal(a(pan).toString(), a2(pan).toString());
      assert.notEqual(a(pan).toString(), b(pan).toString());
      assert.notEqual(a(pan).toString(), a(Buffer.from('4111111111111112')).toString());
      assert.match(a(pan).toString(), /^[0-9a-f]{32}$/);
      assert.equal(statSync(join(dir, 'masking-a.key')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(dir, 'masking-a.key'), 'utf8').trim().length, 64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses rules that are not schema.table.column, or a glob outside the column', () => {
    assert.throws(() => MaskingConfig.parse({ rules: [{ match: 'users.email', strategy: 'redact' }] }), /schema\.table\.column/);
    assert.throws(() => MaskingConfig.parse({ rules: [{ match: 'public.*.email', strategy: 'redact' }] }), /schema\.table\.column/);
    assert.throws(() => MaskingConfig.parse({ rules: [{ match: "public.u'x.email", strategy: 'redact' }] }), /schema\.table\.column/);
    assert.throws(() => MaskingConfig.parse({ rules: [{ match: 'public.u.email', strategy: 'fixed' }] }), /value/);
    assert.equal(compileRule({ match: 'public.u.em*', strategy: 'redact', keepLast: 4 }, null, 't').column('email'), true);
  });

  it('reads view column origins from the top-level target list only, through escaped names', () => {
    const action = '({QUERY :commandType 1 :rtable ({RTE :subquery {QUERY :targetList ({TARGETENTRY :resno 1 :resname inner :resorigtbl 99 :resorigcol 9 :resjunk false})}}) '
      + ':targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1 :resname id :ressortgroupref 0 :resorigtbl 16390 :resorigcol 1 :resjunk false} '
      + '{TARGETENTRY :expr {FUNCEXPR :args ({VAR :varno 1})} :resno 2 :resname a\\ \\{b :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :override 0})';
    assert.deepEqual(viewColumnOrigins(action), [
      { resno: 1, name: 'id', table: 16390, column: 1 },
      { resno: 2, name: 'a {b', table: 0, column: 0 },
    ]);
  });
});

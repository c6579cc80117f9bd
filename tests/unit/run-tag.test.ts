import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { RunTag, taggedApplicationName } from '../../services/gateway/postgres/run-tag.js';

const TAG = 'tg:acme/payments:123456:2';
let tag: RunTag;
before(async () => {
  tag = await RunTag.create(TAG);
});

describe('the run tag with a client\'s application_name', () => {
  it('keeps the client\'s name behind the tag', () => {
    assert.equal(taggedApplicationName(TAG, 'psql'), `${TAG} psql`);
    assert.equal(taggedApplicationName(TAG, undefined), TAG);
    assert.equal(taggedApplicationName(TAG, '   '), TAG);
  });

  it('cuts at 63 bytes, and the tag always survives whole', () => {
    const name = taggedApplicationName(TAG, 'x'.repeat(100));
    assert.equal(Buffer.byteLength(name), 63);
    assert.ok(name.startsWith(`${TAG} x`));
  });

  it('removes what is not printable ASCII', () => {
    assert.equal(taggedApplicationName(TAG, 'a\u0000b\nc\u00e9d\u{1f600}e\u007f'), `${TAG} abcde`);
  });
});

describe('statements that rename the session', () => {
  it('rewrites SET, SET LOCAL and SET SESSION to the tagged name', () => {
    assert.equal(tag.rewrite("SET application_name = 'mine'"), `SET application_name = E'${TAG} mine'`);
    assert.equal(tag.rewrite('set local application_name to mine'), `SET LOCAL application_name = E'${TAG} mine'`);
    assert.equal(tag.rewrite(`SET SESSION "APPLICATION_NAME" = 'it''s\\'`), `SET application_name = E'${TAG} it''s\\\\'`);
  });

  it('rewrites only the renaming statement of a multi-statement string', () => {
    assert.equal(tag.rewrite("select 1; SET application_name = 'x'; select 2"), `select 1;SET application_name = E'${TAG} x'; select 2`);
  });

  it('leaves RESET alone: it returns to the tagged startup name', () => {
    assert.equal(tag.rewrite('RESET application_name'), 'RESET application_name');
    assert.equal(tag.rewrite('SET application_name TO DEFAULT'), 'SET application_name TO DEFAULT');
  });

  it('wraps the value of set_config for application_name, whatever the value is', () => {
    const out = tag.rewrite("SELECT pg_catalog.set_config('Application_Name', $1 || 'x', false)");
    assert.match(out, /^SELECT pg_catalog\.set_config\('Application_Name', pg_catalog\.rtrim\(pg_catalog\.left\(pg_catalog\.regexp_replace\(E'tg:acme\/payments:123456:2 ' \|\| \(\$1 \|\| 'x'\)::text, /);
    assert.ok(out.endsWith(', 63)), false)'), out);
  });

  it('compares a setting name computed at run time, named arguments included', () => {
    const out = tag.rewrite('select set_config(setting_name => $1, new_value => $2, is_local => false)');
    assert.match(out, /new_value => CASE WHEN pg_catalog\.lower\(\(\$1\)::text\) = 'application_name' THEN .* ELSE \(\$2\)::text END, is_local => false\)$/);
  });

  it('sees through comments and quoting around the arguments', () => {
    const out = tag.rewrite("select set_config(/* , */ 'application_name' -- ,\n , $$a,b)$$, false)");
    assert.ok(out.includes(`E'${TAG} ' || ($$a,b)$$)::text`), out);
  });

  it('cuts arguments where the parser does: parentheses in comments, UESCAPE clauses', () => {
    assert.equal(tag.rewrite("select set_config('application_name', 'a' || (select 'b' /* ) */), false)"), "select set_config('application_name', pg_catalog.rtrim(pg_catalog.left(pg_catalog.regexp_replace(E'tg:acme/payments:123456:2 ' || ('a' || (select 'b' /* ) */))::text, E'[^\\\\x20-\\\\x7e]', '', 'g'), 63)), false)");
    assert.equal(tag.rewrite("select set_config('application_name', U&'x' UESCAPE '!', false)"), "select set_config('application_name', pg_catalog.rtrim(pg_catalog.left(pg_catalog.regexp_replace(E'tg:acme/payments:123456:2 ' || (U&'x' UESCAPE '!')::text, E'[^\\\\x20-\\\\x7e]', '', 'g'), 63)), false)");
  });

  it('leaves other settings and mere mentions alone', () => {
    for (const sql of ["select set_config('search_path', 'x', false)", "select 'application_name'", 'select current_setting($1)', 'show application_name']) {
      assert.equal(tag.rewrite(sql), sql);
    }
  });
});

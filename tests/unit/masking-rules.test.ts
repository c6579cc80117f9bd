import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackendFramer } from '../../services/gateway/postgres/backend-framer.js';
import { ResultMasker } from '../../services/gateway/postgres/result-masker.js';
import { ColumnOrigins } from '../../services/masking/column-origins.js';
import { MaskingConfig } from '../../services/masking/config.js';
import { ALL_DETECTORS, redactSensitive } from '../../services/masking/detectors/index.js';
import { SessionMasking } from '../../services/masking/session-masking.js';
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

describe('masked rows on the wire', () => {
  // One column per strategy, an unattributed (scanned) column and an untouched one; values with and without
  // non-ASCII text, empty and NULL. The framer's output is read back as the client reads it.
  const cols = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const config = MaskingConfig.parse({
    unattributed: 'scan',
    rules: [
      { match: 'public.t.a', strategy: 'partial', keepLast: 4 },
      { match: 'public.t.b', strategy: 'redact' },
      { match: 'public.t.c', strategy: 'null' },
      { match: 'public.t.d', strategy: 'fixed', value: 'XY' },
      { match: 'public.t.e', strategy: 'hmac' },
      { match: 'public.t.f', strategy: 'partial', keepLast: 0 },
    ],
  });
  const values = ['', 'x', 'abcd', 'Jürgen Müller ✓', 'card 4111 1111 1111 1111', 'x'.repeat(300), 'ééééé', null];
  const cell = (row: number, col: number): string | null => values[(row * 3 + col) % values.length]!;
  const ROWS = 200;
  const message = (type: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const rowDescription = (): Buffer => message('T', Buffer.concat([Buffer.from([0, cols.length]), ...cols.flatMap((c, i) => {
    const f = Buffer.alloc(18);
    f.writeUInt32BE(c === 'g' ? 0 : 16400, 0); // g: no origin, so scanned
    f.writeInt16BE(c === 'g' ? 0 : i + 1, 4);
    f.writeUInt32BE(25, 6);
    f.writeInt16BE(-1, 10);
    f.writeInt32BE(-1, 12);
    return [Buffer.from(`${c}\0`), f];
  })]));
  const dataRow = (row: number): Buffer => message('D', Buffer.concat([Buffer.from([0, cols.length]), ...cols.flatMap((_, col) => {
    const v = cell(row, col);
    const len = Buffer.alloc(4);
    len.writeInt32BE(v === null ? -1 : Buffer.byteLength(v));
    return v === null ? [len] : [len, Buffer.from(v)];
  })]));
  const stream = Buffer.concat([rowDescription(), ...Array.from({ length: ROWS }, (_, r) => dataRow(r)), message('C', Buffer.from('SELECT 200\0'))]);

  function relay(chunks: number[]): { bytes: Buffer; cells: Record<string, number> | undefined } {
    const policy = new TargetMasking('t', config, null);
    const session = new SessionMasking(policy, []);
    session.origins = new ColumnOrigins(policy, cols.map((c, i) => ['c', '16400', String(i + 1), 'public', 't', c]));
    const masker = new ResultMasker({ message: () => undefined, streamed: () => undefined, failCurrent: () => undefined }, session);
    const framer = new BackendFramer(masker);
    masker.query('select * from t');
    const out: Buffer[] = [];
    for (let off = 0, i = 0; off < stream.length; i++) {
      const n = chunks[i % chunks.length]!;
      for (const b of framer.push(stream.subarray(off, off + n))) out.push(Buffer.from(b));
      off += n;
    }
    return { bytes: Buffer.concat(out), cells: masker.takeCounts()?.cells };
  }

  function rowsOf(bytes: Buffer): (string | null)[][] {
    const rows: (string | null)[][] = [];
    for (let off = 0; off < bytes.length; off += 1 + bytes.readInt32BE(off + 1)) {
      if (bytes[off] !== 0x44) continue;
      const row: (string | null)[] = [];
      let p = off + 7;
      for (let i = 0; i < bytes.readInt16BE(off + 5); i++) {
        const len = bytes.readInt32BE(p);
        row.push(len < 0 ? null : bytes.toString('utf8', p + 4, p + 4 + len));
        p += 4 + Math.max(len, 0);
      }
      assert.equal(p, off + 1 + bytes.readInt32BE(off + 1), 'the row length matches its cells');
      rows.push(row);
    }
    return rows;
  }

  it('masks every strategy as the rules say, with exact lengths, whatever the text', () => {
    const { bytes, cells } = relay([stream.length]);
    const rows = rowsOf(bytes);
    assert.equal(rows.length, ROWS);
    const stars = (v: string, keep: number): string => {
      const chars = Array.from(v);
      const cut = Math.max(0, chars.length - keep);
      return '*'.repeat(cut) + chars.slice(cut).join('');
    };
    rows.forEach((row, r) => {
      const raw = cols.map((_, c) => cell(r, c));
      const expected = [
        raw[0] === null ? null : stars(raw[0]!, 4),
        raw[1] === null ? null : '[masked]',
        null,
        raw[3] === null ? null : 'XY',
        row[4], // checked below: a keyed digest
        raw[5] === null ? null : stars(raw[5]!, 0),
        raw[6] === null ? null : redactSensitive(raw[6]!, ALL_DETECTORS).text,
        raw[7],
      ];
      assert.deepEqual(row, expected, `row ${r}`);
      if (raw[4] !== null) assert.match(row[4]!, /^[0-9a-f]{32}$/);
      else assert.equal(row[4], null);
    });
    const nonNull = (col: number): number => Array.from({ length: ROWS }, (_, r) => cell(r, col)).filter((v) => v !== null).length;
    assert.deepEqual(cells, { 'public.t.a': nonNull(0), 'public.t.b': nonNull(1), 'public.t.c': nonNull(2), 'public.t.d': nonNull(3), 'public.t.e': nonNull(4), 'public.t.f': nonNull(5) });
  });

  it('sends the same bytes however the target stream is cut into chunks', () => {
    const whole = relay([stream.length]).bytes;
    for (const chunks of [[1], [2, 3, 5, 7, 11], [64], [1000, 1], [65536]]) assert.ok(relay(chunks).bytes.equals(whole), `chunks of ${chunks.join(', ')}`);
  });
});

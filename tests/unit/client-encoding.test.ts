import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUtf8EncodingName } from '../../services/gateway/postgres/client-encoding.js';

describe('client_encoding names', () => {
  it('accepts every spelling PostgreSQL reads as UTF8 (case and punctuation ignored)', () => {
    // asyncpg sends the value quoted: 'utf-8'
    for (const name of ["'utf-8'", 'UTF8', 'utf8', 'utf-8', 'UTF-8', 'Utf_8', 'utf 8', 'u.t.f.8', 'UNICODE', 'unicode', 'Uni-Code']) {
      assert.equal(isUtf8EncodingName(name), true, name);
    }
  });

  it('refuses other encodings and names PostgreSQL would not accept', () => {
    for (const name of ['LATIN1', 'SQL_ASCII', 'utf16', 'utf-16', 'WIN1252', 'EUC_JP', '', 'utf', 'utf8x', 'ütf8', `utf8${'-'.repeat(64)}`]) {
      assert.equal(isUtf8EncodingName(name), false, name);
    }
  });
});

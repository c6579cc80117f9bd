import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getCountrySpecifications } from 'ibantools';
import { ALL_DETECTORS, findSensitive, redactSensitive, type DetectorName } from '../../services/masking/detectors/index.js';
import { scanWork } from '../../services/masking/detectors/span.js';

// The detector corpus: values generated here, with checksums computed here (not by the detectors' code), embedded
// in the places a trail carries them. Every valid value is found, no near miss is.

const RUNS = 300;

/** Independent Luhn: double every second digit from the right via a lookup table. */
function luhnSum(digits: string): number {
  const doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[digits.length - 1 - i]);
    sum += i % 2 === 1 ? doubled[d]! : d;
  }
  return sum % 10;
}
const luhnOk = (digits: string): boolean => luhnSum(digits) === 0;
function completeLuhn(body: string): string {
  const check = (10 - luhnSum(body + '0')) % 10;
  return body + String(check);
}

/** Found exactly once, by `detector`, covering exactly `value` inside `text`. */
function assertFoundExactly(text: string, value: string, detector: DetectorName, detectors: readonly DetectorName[] = ALL_DETECTORS): void {
  const hits = findSensitive(text, detectors);
  const at = text.indexOf(value);
  assert.deepEqual(hits, [{ detector, start: at, end: at + value.length }], `${detector} in ${JSON.stringify(text)}`);
}

function assertNothing(text: string, detectors: readonly DetectorName[] = ALL_DETECTORS): void {
  assert.deepEqual(findSensitive(text, detectors), [], JSON.stringify(text));
}

// Where values turn up in a trail: a bare cell, a SQL literal, a sentence, a JSON document, a bind parameter list.
const contexts = fc.constantFrom(
  (v: string) => v,
  (v: string) => `insert into payments values ('${v}', 42)`,
  (v: string) => `the value ${v}, then more`,
  (v: string) => JSON.stringify({ value: v, note: 'x' }),
  (v: string) => `$1 = '${v}'\n$2 = 'y'`,
);

// Issuer prefixes across the networks (Visa, Mastercard old and 2-series, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir).
const IINS = ['4', '51', '52', '53', '54', '55', '2221', '2500', '2720', '34', '37', '6011', '644', '65', '3528', '3589', '300', '305', '36', '38', '62', '50', '56', '58', '6759', '2200', '2204'];

const cardDigits = fc
  .record({ iin: fc.constantFrom(...IINS), length: fc.integer({ min: 13, max: 19 }), seed: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }) })
  .map(({ iin, length, seed }) => completeLuhn(iin + seed.slice(0, length - 1 - iin.length).join('')));

function grouped(digits: string, sep: string): string {
  return digits.match(/.{1,4}/g)!.join(sep);
}

describe('card detector', () => {
  it('finds every Luhn-valid number under a known issuer, 13 to 19 digits, unbroken or grouped, in any context', () => {
    fc.assert(
      fc.property(cardDigits, fc.constantFrom('', ' ', '-'), contexts, (digits, sep, wrap) => {
        assert.ok(luhnOk(digits));
        const shown = sep === '' || digits.length % 4 === 1 || digits.length % 4 === 2 ? digits : grouped(digits, sep); // groups of 1-2 digits are not a card layout
        assertFoundExactly(wrap(shown), shown, 'card');
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('finds every length under every prefix (exhaustive over the prefix table)', () => {
    for (const iin of IINS) {
      for (let length = 13; length <= 19; length++) {
        const digits = completeLuhn(iin + '7'.repeat(length - 1 - iin.length));
        assertFoundExactly(`pan=${digits};`, digits, 'card');
      }
    }
  });

  it('finds the Amex 4-6-5 layout and a card followed by an expiry year', () => {
    const amex = completeLuhn('37' + '8282246310'.padEnd(12, '0'));
    const shown = `${amex.slice(0, 4)} ${amex.slice(4, 10)} ${amex.slice(10)}`;
    assertFoundExactly(`card ${shown} exp`, shown, 'card');
    const visa = grouped(completeLuhn('411111111111111'), ' ');
    assertFoundExactly(`${visa} 2030`, visa, 'card');
  });

  it('takes no number with a group longer than six digits for a card: a process id and a millisecond timestamp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 40_000, max: 49_999 }), fc.integer({ min: 1_700_000_000_000, max: 1_999_999_999_999 }), (pid, ms) => {
        const digits = completeLuhn(`${pid}${ms}`.slice(0, -1));
        const shown = `${digits.slice(0, 5)}-${digits.slice(5)}`;
        assert.deepEqual(findSensitive(`insert into t values ('marker-${shown}')`, ['card']), [], shown);
      }),
      { numRuns: RUNS },
    );
  });

  it('flags no Luhn-invalid number: of the ten check digits exactly one is found', () => {
    fc.assert(
      fc.property(cardDigits, contexts, (digits, wrap) => {
        const body = digits.slice(0, -1);
        const found = [...'0123456789'].filter((d) => findSensitive(wrap(body + d), ['card']).length > 0);
        assert.deepEqual(found, [digits.slice(-1)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('flags no random integer of any length unless it is a Luhn-valid card number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 60, maxLength: 60 }), contexts, (length, seed, wrap) => {
        const n = String(BigInt(seed.slice(0, length).join('')) + 1n); // no leading zeros: an integer as a database prints it
        const hits = findSensitive(wrap(n), ALL_DETECTORS);
        if (n.length < 13 || n.length > 19 || !luhnOk(n)) assert.deepEqual(hits, [], n);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('flags no integer outside 13-19 digits even when Luhn-valid, nor digits glued to letters or decimals', () => {
    for (const length of [10, 11, 12, 20, 21, 25, 40]) assertNothing(`n=${completeLuhn('4'.padEnd(length - 1, '3'))}`);
    const pan = completeLuhn('411111111111111');
    for (const text of [`x${pan}`, `${pan}x`, `${pan}.25`, `0.${pan}`, `_${pan}`, `${pan}${pan}`]) assertNothing(text, ['card']);
  });
});

/** ISO 13616 check digits, computed with BigInt (independent of ibantools). */
function ibanCheckDigits(country: string, bban: string): string {
  const rearranged = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return String(98n - (BigInt(rearranged) % 97n)).padStart(2, '0');
}

/** A BBAN matching the country's published structure, e.g. "^[0-9]{8}[A-Z0-9]{12}$". */
function bbanFor(pattern: string, pick: (alphabet: string) => string): string {
  let out = '';
  for (const [, cls, count] of pattern.matchAll(/\[([^\]]+)\]\{(\d+)\}/g)) {
    const alphabet = (cls!.includes('A-Z') ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' : '') + (cls!.includes('0-9') ? '0123456789' : '');
    for (let i = 0; i < Number(count); i++) out += pick(alphabet);
  }
  return out;
}

const SPECS = Object.entries(getCountrySpecifications()).filter(([, s]) => s.chars !== undefined && s.chars !== null && s.bban_regexp !== undefined && s.bban_regexp !== null);

const ibans = fc
  .record({ spec: fc.constantFrom(...SPECS), seed: fc.array(fc.nat(), { minLength: 34, maxLength: 34 }) })
  .map(({ spec: [country, s], seed }) => {
    let k = 0;
    const bban = bbanFor(s.bban_regexp!, (alphabet) => alphabet[seed[k++]! % alphabet.length]!);
    return { country, iban: country + ibanCheckDigits(country, bban) + bban, chars: s.chars! };
  });

describe('IBAN detector', () => {
  it('covers the registry: at least 75 countries with a published structure', () => {
    assert.ok(SPECS.length >= 75, String(SPECS.length));
  });

  it('finds every IBAN with correct check digits, in every country, electronic or print form, in any context', () => {
    fc.assert(
      fc.property(ibans, fc.boolean(), fc.boolean(), contexts, ({ iban, chars }, print, lower, wrap) => {
        assert.equal(iban.length, chars);
        let shown = print ? iban.match(/.{1,4}/g)!.join(' ') : iban;
        if (lower) shown = shown.toLowerCase();
        assertFoundExactly(wrap(shown), shown, 'iban', ['iban']);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('finds a documented example from each of several countries', () => {
    for (const iban of ['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606', 'NL91ABNA0417164300', 'CH9300762011623852957', 'BE68539007547034']) {
      assertFoundExactly(`iban ${iban}.`, iban, 'iban', ['iban']);
    }
  });

  it('flags no IBAN with wrong check digits, a wrong length or glued to other text', () => {
    fc.assert(
      fc.property(ibans, fc.integer({ min: 1, max: 96 }), ({ iban }, delta) => {
        const wrong = String(((Number(iban.slice(2, 4)) - 2 + delta) % 97) + 2).padStart(2, '0');
        assertNothing(iban.slice(0, 2) + wrong + iban.slice(4), ['iban']);
        assertNothing(iban + '7', ['iban']);
        assertNothing(iban.slice(0, -1), ['iban']);
        assertNothing(`X${iban}`, ['iban']);
      }),
      { numRuns: RUNS },
    );
  });
});

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const base62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomOf = (alphabet: string, length: number): string => Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

describe('JWT detector', () => {
  it('finds signed and unsigned JWTs whose header names an alg', () => {
    fc.assert(
      fc.property(fc.constantFrom('HS256', 'RS256', 'ES384', 'EdDSA', 'none'), fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 12 })), contexts, (alg, claims, wrap) => {
        const signature = alg === 'none' ? '' : randomBytes(32).toString('base64url');
        const jwt = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.${signature}`;
        assertFoundExactly(wrap(jwt), jwt, 'jwt');
      }),
      { numRuns: RUNS },
    );
  });

  it('flags near misses: no alg, not JSON, two parts, four parts (JWE-like), glued to a base64 run', () => {
    const payload = b64url({ sub: 'x' });
    const sig = randomBytes(32).toString('base64url');
    assertNothing(`${b64url({ typ: 'JWT' })}.${payload}.${sig}`);
    assertNothing(`${b64url({ alg: 5 })}.${payload}.${sig}`);
    assertNothing(`eyJub3QganNvbg.${payload}.${sig}`);
    assertNothing(`${b64url({ alg: 'HS256' })}.${payload}`);
    assertNothing(`${b64url({ alg: 'HS256' })}.${payload}.${sig}.${sig}`);
    assertNothing(`abc${b64url({ alg: 'HS256' })}.${payload}.${sig}`);
  });
});

describe('cloud and VCS token detectors', () => {
  const tokens: ReadonlyArray<[DetectorName, () => string]> = [
    ['cloud-token', () => 'AKIA' + randomOf(UPPER_DIGITS, 16)],
    ['cloud-token', () => 'ASIA' + randomOf(UPPER_DIGITS, 16)],
    ['cloud-token', () => 'AKIAIOSFODNN7EXAMPLE'],
    ['cloud-token', () => 'AIza' + randomOf(base62 + '-_', 35)],
    ['cloud-token', () => `xoxb-${randomOf('0123456789', 12)}-${randomOf('0123456789', 13)}-${randomOf(base62, 24)}`],
    ['cloud-token', () => `xoxp-${randomOf('0123456789', 12)}-${randomOf(base62, 30)}`],
    ['cloud-token', () => `xapp-1-${randomOf(base62, 40)}`],
    ['vcs-token', () => 'ghp_' + randomOf(base62, 36)],
    ['vcs-token', () => 'gho_' + randomOf(base62, 36)],
    ['vcs-token', () => 'ghs_' + randomOf(base62, 36)],
    ['vcs-token', () => 'ghu_' + randomOf(base62, 36)],
    ['vcs-token', () => `github_pat_${randomOf(base62, 22)}_${randomOf(base62, 59)}`],
    ['vcs-token', () => 'glpat-' + randomOf(base62 + '-_', 20)],
    ['vcs-token', () => 'glrt-' + randomOf(base62, 27)],
  ];

  it('finds every documented token format, in any context', () => {
    fc.assert(
      fc.property(fc.constantFrom(...tokens), contexts, ([detector, make], wrap) => {
        const token = make();
        assertFoundExactly(wrap(token), token, detector);
      }),
      { numRuns: RUNS },
    );
  });

  it('finds an Azure storage account key and a SAS signature, not the rest of the connection string', () => {
    const key = randomBytes(64).toString('base64');
    assertFoundExactly(`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=core.windows.net`, key, 'cloud-token');
    const sig = encodeURIComponent(randomBytes(32).toString('base64'));
    assertFoundExactly(`https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-12-01&sr=b&sp=r&sig=${sig}`, sig, 'cloud-token');
  });

  it('flags near misses: wrong lengths, wrong prefixes, lower case, glued to other text', () => {
    for (const text of [
      'AKIA' + 'A'.repeat(15),
      'AKIA' + 'A'.repeat(17),
      'akia' + 'a'.repeat(16),
      'XAKIA' + 'A'.repeat(16),
      'AKIB' + 'A'.repeat(16),
      'AIza' + 'a'.repeat(34),
      'ghp_' + 'a'.repeat(35),
      'ghx_' + 'a'.repeat(36),
      'xghp_' + 'a'.repeat(36),
      'github_pat_' + 'a'.repeat(40),
      'glpat-' + 'a'.repeat(19),
      'xoxb-short',
      'xoxz-' + 'a'.repeat(30),
      'AccountKey=' + 'a'.repeat(40),
      'sig=' + 'a'.repeat(20),
      'the AKIA prefix, the ghp_ prefix and glpat- are documented',
    ]) {
      assertNothing(text);
    }
  });
});

describe('private key detector', () => {
  const pems = [
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string,
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(300).toString('base64').match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`,
  ];

  it('finds PEM private keys of every kind, raw, SQL-quoted and JSON-escaped', () => {
    for (const pem of pems) {
      const key = pem.trimEnd();
      assertFoundExactly(key, key, 'private-key');
      assertFoundExactly(`insert into k values ('${key}')`, key, 'private-key');
      const escaped = JSON.stringify(key).slice(1, -1);
      assertFoundExactly(`{"key":"${escaped}"}`, escaped, 'private-key');
    }
  });

  it('masks a key cut short (no END line) to the end of its body', () => {
    const key = pems[1]!.trimEnd();
    const cut = key.slice(0, key.indexOf('-----END'));
    const { text } = redactSensitive(`${cut}') returning id`, ['private-key']);
    assert.equal(text, "[masked:private-key]') returning id");
  });

  it('flags public keys and certificates: not private', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assertNothing(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    assertNothing('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
  });
});

describe('email detector', () => {
  it('finds addresses in any context', () => {
    const local = fc.stringMatching(/^[a-z0-9][a-z0-9._%+-]{0,20}[a-z0-9]$/).filter((s) => !s.includes('..'));
    const domain = fc.tuple(fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/), { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'de', 'io', 'co', 'museum'));
    fc.assert(
      fc.property(local, domain, contexts, (l, [labels, tld], wrap) => {
        const email = `${l}@${[...labels, tld].join('.')}`;
        assertFoundExactly(wrap(email), email, 'email');
      }),
      { numRuns: RUNS },
    );
  });

  it('flags near misses: no dot in the domain, numeric TLD, empty local part, local part over 64', () => {
    for (const text of ['user@localhost', 'a@1.2.3.4', '@example.com', 'a'.repeat(65) + '@example.com', 'a@-x.com', 'user@.com']) assertNothing(text);
  });

  it('is off unless asked for (the trail default leaves it out)', () => {
    assertNothing('mail alice@example.com', ALL_DETECTORS.filter((d) => d !== 'email'));
  });
});

describe('redaction', () => {
  it('replaces each hit with a marker naming the detector and counts hits', () => {
    const pan = completeLuhn('411111111111111');
    const jwt = `${b64url({ alg: 'HS256' })}.${b64url({ sub: '1' })}.${randomBytes(8).toString('base64url')}`;
    const out = redactSensitive(`a ${pan} b ${pan} c ${jwt} d DE89370400440532013000 e AKIAIOSFODNN7EXAMPLE`, ALL_DETECTORS);
    assert.equal(out.text, 'a [masked:card] b [masked:card] c [masked:jwt] d [masked:iban] e [masked:cloud-token]');
    assert.deepEqual(out.hits, { card: 2, jwt: 1, iban: 1, 'cloud-token': 1 });
  });

  it('leaves text without hits as it was and scans only the detectors asked for', () => {
    const text = 'select id, name from users where id = 4111111111111111';
    assert.deepEqual(redactSensitive(text, ['iban', 'email']), { text, hits: {} });
    assert.deepEqual(redactSensitive(text, []), { text, hits: {} });
  });

  it('keeps hostile quarter-megabytes correct (each detector is linear: a quadratic one would not finish here)', () => {
    const mib = 1 << 18;
    const hostile = [
      '9'.repeat(mib),
      '4111 '.repeat(mib / 5),
      'a'.repeat(mib) + '@',
      'a@'.repeat(mib / 2),
      'eyJ'.repeat(mib / 3),
      'eyJhbGciOiJIUzI1NiJ9.'.repeat(mib / 21),
      'DE89 '.repeat(mib / 5),
      'xoxb-'.repeat(mib / 5),
      'AKIA'.repeat(mib / 4),
      'ghp_'.repeat(mib / 4),
      '-----BEGIN PRIVATE KEY-----'.repeat(mib / 27),
      '-----BEGIN RSA PRIVATE KEY-----\n' + 'A'.repeat(mib) + '\n-----END RSA PRIVATE KEY-----',
      'sig=' + '%2B'.repeat(mib / 3),
    ];
    for (const text of hostile) {
      const { text: masked } = redactSensitive(text, ALL_DETECTORS);
      assert.ok(masked.length <= text.length + 64 * 1024);
    }
    assert.equal(redactSensitive(hostile[hostile.length - 2]!, ALL_DETECTORS).text, '[masked:private-key]');
    assert.deepEqual(findSensitive(hostile[0]!, ALL_DETECTORS), []);
  });
});

describe('scan work on hostile input', () => {
  // Characters read while checking candidates (scanWork), counted, never timed: for every detector and every shape
  // built to make a scanner re-read, four times the text costs at most four times the work, and each character costs
  // a small constant. A detector that re-read its candidates' text quadratically, or whose candidates overlapped
  // without bound, would fail here at any machine speed.
  const shapes: Record<string, string> = {
    digits: '9',
    'card groups': '4111 ',
    'short card groups': '411 ',
    'dashed card groups': '4111-1111-',
    'a@': 'a@',
    'local part then @': 'a'.repeat(70) + '@',
    'domain after @': '@' + 'a.'.repeat(40),
    eyJ: 'eyJ',
    'JWT headers': 'eyJhbGciOiJIUzI1NiJ9.',
    'DE89 ': 'DE89 ',
    'ES12 (aligned print form)': 'ES12 ',
    'GB82 with a letter run': 'GB82 WEST ',
    'xoxb-': 'xoxb-',
    ' xoxb- runs': ' xoxb-' + 'a'.repeat(260),
    AKIA: 'AKIA',
    'ghp_': 'ghp_',
    ' ghp_ runs': ' ghp_' + 'a'.repeat(260),
    ' glpat- dotted runs': ' glpat-' + 'a.'.repeat(160),
    'AccountKey=': 'AccountKey=',
    '?sig=': '?sig=' + '%2B'.repeat(30),
    'PEM BEGIN lines': '-----BEGIN PRIVATE KEY-----',
    'PEM BEGIN then body': '-----BEGIN PRIVATE KEY-----\nAAAA\n',
    prose: 'Order 81723 shipped to Lisbon on 2026-11-30; call back after 5 pm. ',
  };
  const SIZE = 1 << 15;
  const work = (text: string, detector: DetectorName): number => {
    scanWork.candidates = 0;
    scanWork.reads = 0;
    findSensitive(text, [detector]);
    return scanWork.reads + scanWork.candidates;
  };
  const build = (unit: string, length: number): string => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

  for (const detector of ALL_DETECTORS) {
    it(`${detector}: work grows linearly, a few reads per character at most`, () => {
      for (const [name, unit] of Object.entries(shapes)) {
        const small = work(build(unit, SIZE), detector);
        const large = work(build(unit, 4 * SIZE), detector);
        assert.ok(large <= 4 * small + 4096, `${detector} on ${name}: ${small} then ${large} at four times the length`);
        assert.ok(large <= 16 * 4 * SIZE, `${detector} on ${name}: ${large} reads for ${4 * SIZE} characters`);
      }
    });
  }

  it('counts what it claims: an IBAN in a sentence is one candidate, read a few times over its length', () => {
    scanWork.candidates = 0;
    scanWork.reads = 0;
    findSensitive('x DE89 3704 0044 0532 0130 00 y', ['iban']);
    assert.equal(scanWork.candidates, 1);
    assert.ok(scanWork.reads >= 22 && scanWork.reads <= 4 * 27, String(scanWork.reads));
  });
});

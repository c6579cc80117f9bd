/** Byte-level mutation of seed inputs (the classic havoc moves), as fast-check arbitraries so failures shrink. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

export const CORPUS_DIR = join(import.meta.dirname, 'corpus');

/** Every seed of a target, by file name; an empty or missing corpus is a defect of the repository, not a skip. */
export function loadCorpus(target: string): { name: string; bytes: Buffer }[] {
  const dir = join(CORPUS_DIR, target);
  const seeds = readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
  if (seeds.length === 0) throw new Error(`TG_FUZZ_NO_CORPUS: ${dir} holds no seeds; run tests/fuzz/make-corpus.ts`);
  return seeds;
}

/** Values that break length and count fields: zero, negative, just past the end, huge. */
const INTERESTING_INT32 = [0, 1, 3, 4, 5, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, -1, -0x80000000, 10_000, 10_001];

type Edit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'int32'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'duplicate'; at: number; n: number }
  | { op: 'truncate'; at: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 0x0a, 0x2c, 0x3d, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant('int32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_INT32), fc.integer()) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

export function applyEdits(seed: Buffer, edits: Edit[]): Buffer {
  let b = Buffer.from(seed);
  for (const e of edits) {
    const at = b.length ? e.at % (b.length + 1) : 0;
    switch (e.op) {
      case 'flip':
        if (at < b.length) b[at]! ^= 1 << e.bit;
        break;
      case 'set':
        if (at < b.length) b[at] = e.byte;
        break;
      case 'int32':
        if (at + 4 <= b.length) b.writeInt32BE(e.value | 0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.n)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + e.n), b.subarray(at)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** A seed from the corpus with 1 to 8 edits, or several seeds spliced together. */
export function mutatedSeeds(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const pick = fc.integer({ min: 0, max: seeds.length - 1 }).map((i) => seeds[i]!);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(pick, fc.array(edit, { minLength: 1, maxLength: 8 })).map(([s, e]) => applyEdits(s, e)) },
    { weight: 1, arbitrary: fc.array(pick, { minLength: 2, maxLength: 4 }).chain((parts) => fc.array(edit, { maxLength: 4 }).map((e) => applyEdits(Buffer.concat(parts), e))) },
  );
}

/** Where a byte stream is cut into the chunks a socket would deliver. */
export const chunkCuts = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 12 });

export function chunked(input: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of cuts) {
    if (at >= input.length) break;
    out.push(input.subarray(at, at + c));
    at += c;
  }
  if (at < input.length) out.push(input.subarray(at));
  return out;
}

// How one masked cell is rewritten. Values arrive as the bytes of their text form (or, for string types, of their
// binary form, which is the same UTF-8); the output is what the client receives in place of them.
import { createHmac } from 'node:crypto';
import { compileGlob, type GlobMatcher } from '../gateway/policy/glob.js';
import type { MaskingRule } from './config.js';

export interface CompiledRule {
  /** The rule as configured (`schema.table.column`), named in refusals and in `masking explain`. */
  match: string;
  schema: string;
  table: string;
  column: GlobMatcher;
  strategy: MaskingRule['strategy'];
  /** The output for `null` is SQL NULL; for the rest, a function of the value's bytes. */
  mask: ((value: Buffer) => Buffer) | null;
  /** The same output for every value (redact, fixed): the row masker writes it without calling `mask`. */
  constant?: Buffer;
  /** For partial: the characters kept (the row masker writes ASCII values in place, without calling `mask`). */
  keepLast?: number;
}

const REDACTED = Buffer.from('[masked]');
const STAR = 0x2a;

export function compileRule(rule: MaskingRule, key: Buffer | null, target: string): CompiledRule {
  const [schema, table, column] = rule.match.split('.') as [string, string, string];
  const compiled: CompiledRule = { match: rule.match, schema, table, column: compileGlob(column), strategy: rule.strategy, mask: maskerOf(rule, key, target) };
  if (rule.strategy === 'redact') compiled.constant = REDACTED;
  else if (rule.strategy === 'fixed') compiled.constant = Buffer.from(rule.value ?? '');
  else if (rule.strategy === 'partial') compiled.keepLast = rule.keepLast;
  return compiled;
}

function maskerOf(rule: MaskingRule, key: Buffer | null, target: string): ((value: Buffer) => Buffer) | null {
  switch (rule.strategy) {
    case 'null':
      return null;
    case 'redact':
      return () => REDACTED;
    case 'fixed': {
      const fixed = Buffer.from(rule.value ?? '');
      return () => fixed;
    }
    case 'partial':
      return (v) => partial(v, rule.keepLast);
    case 'hmac': {
      if (!key) throw new Error(`TG_MASKING_KEY_MISSING: rule ${rule.match} uses hmac but target '${target}' has no masking key`);
      // The target's name is part of the input: one key file reused for two targets still gives unrelated digests.
      const prefix = Buffer.from(`${target}\0`);
      return (v) => Buffer.from(createHmac('sha256', key).update(prefix).update(v).digest('hex').slice(0, 32));
    }
  }
}

/** All but the last `keep` characters become `*`; the length stays (a card reads `************4242`). */
export function partial(value: Buffer, keep: number): Buffer {
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    if (value[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const out = Buffer.allocUnsafe(value.length);
    const cut = Math.max(0, value.length - keep);
    out.fill(STAR, 0, cut);
    value.copy(out, cut, cut);
    return out;
  }
  const chars = Array.from(value.toString('utf8'));
  const cut = Math.max(0, chars.length - keep);
  return Buffer.from('*'.repeat(cut) + chars.slice(cut).join(''));
}

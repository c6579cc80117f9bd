// One target's masking as the gateway runs it: rules compiled, the HMAC key read, exemptions by claim rule.
import type { MaskingConfig } from './config.js';
import type { DetectorName } from './detectors/index.js';
import { loadMaskingKey } from './masking-key.js';
import { compileRule, type CompiledRule } from './strategies.js';

export class TargetMasking {
  readonly rules: CompiledRule[];
  readonly unattributed: MaskingConfig['unattributed'];
  readonly detectors: readonly DetectorName[];
  private readonly exempt: ReadonlySet<string>;

  constructor(
    readonly target: string,
    config: MaskingConfig,
    /** Null: the key is not read (explaining, never masking), and hmac rules mask with a zero key. */
    keysDir: string | null,
  ) {
    const hmac = config.rules.some((r) => r.strategy === 'hmac');
    const key = !hmac ? null : keysDir === null ? Buffer.alloc(32) : loadMaskingKey(target, config.keyFile, keysDir);
    this.rules = config.rules.map((r) => compileRule(r, key, target));
    this.unattributed = config.unattributed;
    this.detectors = config.detectors;
    this.exempt = new Set(config.exemptRules);
  }

  /** The first rule naming this column of this relation (schema and table as the catalogue spells them). */
  ruleFor(schema: string, table: string, column: string): CompiledRule | undefined {
    return this.rules.find((r) => r.schema === schema && r.table === table && r.column(column));
  }

  /** `schema.table` pairs the rules name, for the catalogue query. */
  get relations(): [string, string][] {
    const seen = new Map<string, [string, string]>();
    for (const r of this.rules) seen.set(`${r.schema}.${r.table}`, [r.schema, r.table]);
    return [...seen.values()];
  }

  /** The exempting claim rules among those that granted the session, or [] when the session is masked. */
  exemptBy(matchedRules: readonly string[]): string[] {
    return matchedRules.filter((r) => this.exempt.has(r));
  }
}

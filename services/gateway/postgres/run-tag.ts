// The target must log every statement under the run's tag. A client may name itself (startup parameter,
// SET application_name, set_config), and keeps its name, but always behind the tag.
import { loadModule, parseSync } from 'libpg-query';
import { sqlTokens, type SqlToken } from './sql-tokens.js';

/** PostgreSQL keeps names of 63 bytes (NAMEDATALEN - 1) in pg_stat_activity. */
const MAX_BYTES = 63;
/** Cheap test before parsing: only statements that could name a setting are parsed (U& can spell anything). */
const MAYBE_RENAMES = /application_name|set_config|u&/i;
const SET_CONFIG_PARAMETERS = ['setting_name', 'new_value', 'is_local'];
/**
 * Sent in place of a statement whose set_config arguments could not be cut out exactly as PostgreSQL
 * reads them: it fails to parse on the target, so nothing runs under a name without the tag.
 */
export const UNTAGGABLE_STATEMENT = 'TG_PG_RUN_TAG_UNSAFE_SET_CONFIG';

/** `<tag> <client's name>`, printable ASCII only, within 63 bytes; the tag alone when the client names nothing. */
export function taggedApplicationName(tag: string, clientName: string | undefined): string {
  const name = (clientName ?? '').replace(/[^\x20-\x7e]/g, '').trim();
  return (name ? `${tag} ${name}` : tag).slice(0, MAX_BYTES).trimEnd();
}

let loading: Promise<void> | undefined;

/** Rewrites what a session sends so that every change of application_name keeps the run tag in front. */
export class RunTag {
  private constructor(readonly tag: string) {}

  /** The parser is WASM: loaded once, before the first session needs it. */
  static async create(tag: string): Promise<RunTag> {
    loading ??= loadModule();
    await loading;
    return new RunTag(tag);
  }

  /** The name the target gets at startup. */
  applicationName(clientName: string | undefined): string {
    return taggedApplicationName(this.tag, clientName);
  }

  /** The statement text for the target; unchanged unless it names application_name. */
  rewrite(sql: string): string {
    if (!MAYBE_RENAMES.test(sql)) return sql;
    let tree: { stmts?: { stmt: Obj; stmt_location?: number; stmt_len?: number }[] };
    try {
      tree = parseSync(sql) as typeof tree;
    } catch {
      return sql; // the target refuses it as well
    }
    const text = Buffer.from(sql);
    const tokens = sqlTokens(text);
    const edits: Edit[] = [];
    for (const raw of tree.stmts ?? []) {
      const start = raw.stmt_location ?? 0;
      const end = raw.stmt_len ? start + raw.stmt_len : text.length;
      const set = this.setStatement(raw.stmt);
      if (set !== null) edits.push({ start, end, kind: 'replace', text: set });
      else collectSetConfigCalls(raw.stmt, tokens, edits);
    }
    if (!edits.length) return sql;
    // Argument text is copied into the rewrite (the setting name even twice): it must be the very expression the parser saw.
    if (!edits.every((e) => e.kind === 'replace' || (sameExpression(text, e.setting, e.settingNode) && sameExpression(text, e.value, e.valueNode)))) return UNTAGGABLE_STATEMENT;
    edits.sort((a, b) => a.start - b.start);
    return this.render(text, edits, 0, text.length);
  }

  /** `SET [LOCAL] application_name = v` becomes the same SET of the tagged name; RESET returns to the tagged startup name. */
  private setStatement(stmt: Obj): string | null {
    const set = stmt.VariableSetStmt as Obj | undefined;
    if (!set || String(set.name ?? '').toLowerCase() !== 'application_name' || set.kind !== 'VAR_SET_VALUE') return null;
    const args = Array.isArray(set.args) ? (set.args as Obj[]) : [];
    if (args.length !== 1) return null; // PostgreSQL refuses a list for this setting
    const value = constantText(args[0]!);
    if (value === null) return null;
    return `SET ${set.is_local ? 'LOCAL ' : ''}application_name = ${literal(this.applicationName(value))}`;
  }

  private render(text: Buffer, edits: Edit[], from: number, to: number): string {
    let out = '';
    let pos = from;
    for (const e of edits) {
      if (e.start < pos || e.end > to) continue; // outside, or inside one rendered already
      out += text.toString('utf8', pos, e.start) + this.renderEdit(text, edits, e);
      pos = e.end;
    }
    return out + text.toString('utf8', pos, to);
  }

  private renderEdit(text: Buffer, edits: Edit[], e: Edit): string {
    if (e.kind === 'replace') return e.text;
    const value = this.render(text, edits, e.value[0], e.value[1]);
    const tagged = `pg_catalog.rtrim(pg_catalog.left(pg_catalog.regexp_replace(${literal(`${this.tag} `)} || (${value})::text, E'[^\\\\x20-\\\\x7e]', '', 'g'), ${MAX_BYTES}))`;
    // A setting name computed at run time is compared at run time (evaluated twice: names have no side effects worth keeping).
    const replacement = e.settingIsApplicationName
      ? tagged
      : `CASE WHEN pg_catalog.lower((${this.render(text, edits, e.setting[0], e.setting[1])})::text) = 'application_name' THEN ${tagged} ELSE (${value})::text END`;
    return this.render(text, edits, e.start, e.value[0]) + replacement + this.render(text, edits, e.value[1], e.end);
  }
}

type Obj = Record<string, unknown>;
type Span = [number, number];
type Edit =
  | { kind: 'replace'; start: number; end: number; text: string }
  | { kind: 'set_config'; start: number; end: number; setting: Span; value: Span; settingNode: Obj; valueNode: Obj; settingIsApplicationName: boolean };

function collectSetConfigCalls(node: unknown, tokens: SqlToken[], edits: Edit[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectSetConfigCalls(n, tokens, edits);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const call = (node as Obj).FuncCall as Obj | undefined;
  if (call) {
    const edit = setConfigEdit(call, tokens);
    if (edit) edits.push(edit);
  }
  for (const v of Object.values(node)) collectSetConfigCalls(v, tokens, edits);
}

/** set_config(name, value, is_local): the value is wrapped unless the name is a constant other than application_name. */
function setConfigEdit(call: Obj, tokens: SqlToken[]): Edit | null {
  const names = Array.isArray(call.funcname) ? (call.funcname as { String?: { sval?: string } }[]) : [];
  if (names[names.length - 1]?.String?.sval !== 'set_config') return null;
  const args = Array.isArray(call.args) ? (call.args as Obj[]) : [];
  const spans = argumentSpans(tokens, Number(call.location ?? -1));
  if (!spans || spans.length !== args.length) return null;
  let setting: { node: Obj; span: Span } | undefined;
  let value: { node: Obj; span: Span } | undefined;
  args.forEach((a, i) => {
    const named = a.NamedArgExpr as Obj | undefined;
    const name = named ? String(named.name) : SET_CONFIG_PARAMETERS[i];
    const arg = { node: named ? (named.arg as Obj) : a, span: named ? afterArrow(tokens, spans[i]!) : spans[i]! };
    if (name === 'setting_name') setting = arg;
    if (name === 'new_value') value = arg;
  });
  if (!setting || !value) return null;
  const constant = constantText(setting.node);
  if (constant !== null && constant.toLowerCase() !== 'application_name') return null;
  return {
    kind: 'set_config', start: spans.start, end: spans.end, setting: setting.span, value: value.span,
    settingNode: setting.node, valueNode: value.node, settingIsApplicationName: constant !== null,
  };
}

/** Byte spans of a call's top-level arguments, from its name to its closing parenthesis. */
function argumentSpans(tokens: SqlToken[], location: number): (Span[] & { start: number; end: number }) | null {
  let i = tokens.findIndex((t) => t.start === location);
  if (i < 0) return null;
  const start = location;
  while (i < tokens.length && !isPunct(tokens[i]!, '(')) i++;
  if (i >= tokens.length) return null;
  const spans: Span[] = [];
  let depth = 0;
  let first = -1;
  let last = -1;
  for (i++; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth === 0 && (isPunct(t, ',') || isPunct(t, ')'))) {
      if (first >= 0) spans.push([first, last]);
      first = -1;
      if (isPunct(t, ')')) return Object.assign(spans, { start, end: t.end });
      continue;
    }
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    if (first < 0) first = t.start;
    last = t.end;
  }
  return null;
}

/** The value part of `name => value` (or the older `name := value`). */
function afterArrow(tokens: SqlToken[], span: Span): Span {
  const inside = tokens.filter((t) => t.start >= span[0] && t.end <= span[1]);
  for (let i = 0; i + 2 < inside.length; i++) {
    const [a, b] = [inside[i]!, inside[i + 1]!];
    if (a.end === b.start && ((isPunct(a, '=') && isPunct(b, '>')) || (isPunct(a, ':') && isPunct(b, '=')))) return [inside[i + 2]!.start, span[1]];
  }
  return span;
}

const isPunct = (t: SqlToken, c: string) => t.kind === 'punct' && t.first === c.charCodeAt(0);

/** True when the text of `span`, parenthesised on its own, parses to `node`: the cut matches PostgreSQL's lexer. */
function sameExpression(text: Buffer, span: Span, node: Obj): boolean {
  try {
    const tree = parseSync(`SELECT (${text.toString('utf8', span[0], span[1])})`) as { stmts?: { stmt: { SelectStmt?: { targetList?: { ResTarget?: { val?: Obj } }[] } } }[] };
    if (tree.stmts?.length !== 1) return false;
    const list = tree.stmts[0]!.stmt.SelectStmt?.targetList;
    return list?.length === 1 && withoutLocations(list[0]!.ResTarget?.val) === withoutLocations(node);
  } catch {
    return false;
  }
}

function withoutLocations(node: unknown): string {
  return JSON.stringify(node, (key, v: unknown) => (key === 'location' ? undefined : v));
}

/** The text of a constant as PostgreSQL would read it for a setting; null for anything computed. */
function constantText(node: Obj): string | null {
  const c = node.A_Const as Obj | undefined;
  if (!c) return null;
  if (c.sval) return String((c.sval as Obj).sval ?? '');
  if (c.ival) return String((c.ival as Obj).ival ?? 0);
  if (c.fval) return String((c.fval as Obj).fval ?? '');
  if (c.boolval) return (c.boolval as Obj).boolval ? 'true' : 'false';
  return null;
}

/** An escape-string literal: safe whatever standard_conforming_strings says. */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

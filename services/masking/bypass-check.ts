// The ways around result masking, refused before they reach the target: copies made on the server (COPY TO,
// CREATE TABLE AS, SELECT INTO, INSERT ... SELECT, UPDATE ... SET from a masked column) and results PostgreSQL
// cannot trace back to the masked column (row_to_json(t), t::text, expressions over it, UNION), whose values
// the gateway could not mask by rule. From PostgreSQL's own parser (libpg-query), as the policy classifier.
import { parseSync } from 'libpg-query';
import type { ColumnOrigins } from './column-origins.js';

export interface Bypass {
  code: string;
  message: string;
  hint: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Functions whose result tells nothing of the value passed in (sizes, counts). */
const REVEALS_NOTHING = new Set(['count', 'length', 'char_length', 'character_length', 'octet_length', 'bit_length', 'pg_column_size']);

export interface BypassCheck {
  /** The first way around masking, or null. */
  bypass: Bypass | null;
  /**
   * Whether every computed output column is over no column at all (or only sizes and counts): then a result
   * column without origin is not a masked value in disguise, and `unattributed: deny` lets it pass.
   */
  vetted: boolean;
}

/** Unparsable text is left to the policy gate, which refuses it. */
export function bypassOf(text: string, origins: ColumnOrigins): BypassCheck {
  let tree: { stmts?: { stmt: Obj }[] };
  try {
    tree = parseSync(text) as typeof tree;
  } catch {
    return { bypass: null, vetted: false };
  }
  let vetted = true;
  for (const { stmt } of tree.stmts ?? []) {
    const check = new Check(origins);
    const found = check.statement(stmt);
    if (found) return { bypass: found, vetted: false };
    vetted &&= check.vetted;
  }
  return { bypass: null, vetted };
}

class Check {
  /** Names that refer to a whole row of a masked relation: its name and its aliases. */
  private readonly rowNames = new Set<string>();
  vetted = true;

  constructor(private readonly origins: ColumnOrigins) {}

  statement(node: Obj): Bypass | null {
    this.collectRowNames(node);
    const [type, body] = Object.entries(node)[0] as [string, Obj];
    switch (type) {
      case 'CopyStmt':
        if (!body.is_from && (this.reads(body.relation) || this.reads(body.query))) {
          return refuse('TG_MASKING_COPY', 'COPY TO of a relation with masked columns is refused: copied rows cannot be masked', 'select the columns instead; masked columns come back masked');
        }
        break;
      case 'CreateTableAsStmt':
        if (body.objtype !== 'OBJECT_MATVIEW' && this.reads(body.query)) {
          return refuse('TG_MASKING_COPY', 'CREATE TABLE AS from a relation with masked columns is refused: it would copy raw values into an unmasked table', 'copy only columns without masking rules, with INSERT ... SELECT of those columns from a session exempt from masking');
        }
        break;
      case 'SelectStmt':
        if (body.intoClause && this.reads(body)) {
          return refuse('TG_MASKING_COPY', 'SELECT INTO from a relation with masked columns is refused: it would copy raw values into an unmasked table', 'select the rows without INTO; masked columns come back masked');
        }
        break;
      case 'InsertStmt':
        if (this.reads(body.selectStmt)) {
          return refuse('TG_MASKING_COPY', 'INSERT ... SELECT from a relation with masked columns is refused: it would copy raw values into another table', 'insert the values themselves, or run it in a session exempt from masking');
        }
        break;
      case 'UpdateStmt':
        if (this.reads(body.fromClause) || this.mentionsMasked(body.targetList)) {
          return refuse('TG_MASKING_COPY', 'UPDATE that sets columns from masked columns is refused: it would copy raw values into an unmasked column', 'set the values themselves, or run it in a session exempt from masking');
        }
        break;
      case 'MergeStmt':
        if (this.reads(body.sourceRelation)) {
          return refuse('TG_MASKING_COPY', 'MERGE from a relation with masked columns is refused: it would copy raw values into another table', 'run it in a session exempt from masking');
        }
        break;
      case 'ExplainStmt':
      case 'PrepareStmt':
      case 'DeclareCursorStmt':
        if (isObj(body.query)) {
          const inner = this.statement(body.query);
          if (inner) return inner;
        }
        break;
    }
    return this.outputs(node);
  }

  /** Every output list (SELECT lists at any depth, RETURNING): each column a masked column reaches must keep its origin. */
  private outputs(node: unknown): Bypass | null {
    if (Array.isArray(node)) {
      for (const n of node) {
        const r = this.outputs(n);
        if (r) return r;
      }
      return null;
    }
    if (!isObj(node)) return null;
    const select = isObj(node.SelectStmt) ? node.SelectStmt : 'targetList' in node && 'op' in node ? node : null;
    if (select && select.op && select.op !== 'SETOP_NONE' && (this.plainMasked(select.larg) || this.plainMasked(select.rarg))) {
      return refuse('TG_MASKING_UNTRACEABLE', 'UNION, INTERSECT or EXCEPT over masked columns is refused: their result cannot be traced to the masked column', 'run each SELECT on its own; masked columns come back masked');
    }
    const lists = [select?.targetList, node.returningList, isObj(node.InsertStmt) ? node.InsertStmt.returningList : undefined, isObj(node.UpdateStmt) ? node.UpdateStmt.returningList : undefined, isObj(node.DeleteStmt) ? node.DeleteStmt.returningList : undefined];
    for (const list of lists) {
      for (const item of Array.isArray(list) ? list : []) {
        const val = isObj(item) && isObj(item.ResTarget) ? item.ResTarget.val : undefined;
        const why = this.outputColumn(val);
        if (why) return why;
      }
    }
    for (const v of Object.values(node)) {
      const r = this.outputs(v);
      if (r) return r;
    }
    return null;
  }

  private outputColumn(val: unknown): Bypass | null {
    if (!isObj(val)) return null;
    const ref = isObj(val.ColumnRef) ? val.ColumnRef : null;
    if (ref) {
      const fields = Array.isArray(ref.fields) ? ref.fields : [];
      if (fields.length === 1 && this.rowNames.has(sval(fields[0]))) {
        return refuse('TG_MASKING_UNTRACEABLE', `the whole row of masked relation '${sval(fields[0])}' as one value is refused: its masked columns could not be masked in it`, 'select its columns (or t.*) instead; masked columns come back masked');
      }
      return null; // a plain column keeps its origin: masked by rule
    }
    if (this.vetted && this.mentionsColumn(val)) this.vetted = false;
    if (this.mentionsMasked(val)) {
      return refuse('TG_MASKING_UNTRACEABLE', 'an expression over a masked column (a function, cast, operator or subquery in the select list) is refused: its result cannot be traced to the column, so it could not be masked', 'select the masked column itself (it comes back masked), or use it only in WHERE, JOIN or ORDER BY');
    }
    return null;
  }

  /** Whether a set operation's arm outputs a masked column, a whole row of one, or `*`. */
  private plainMasked(arm: unknown): boolean {
    if (!isObj(arm)) return false;
    if (arm.op && arm.op !== 'SETOP_NONE') return this.plainMasked(arm.larg) || this.plainMasked(arm.rarg);
    if (!this.reads(arm.fromClause)) return false;
    return this.mentionsMasked(arm.targetList, true);
  }

  /** A column reference to a masked column's name, a whole masked row, or (`star`) `*`, anywhere under `node`. */
  private mentionsMasked(node: unknown, star = false): boolean {
    if (Array.isArray(node)) return node.some((n) => this.mentionsMasked(n, star));
    if (!isObj(node)) return false;
    // Sizes, counts and null tests tell nothing of the value.
    if (isObj(node.FuncCall) && REVEALS_NOTHING.has(sval((node.FuncCall.funcname as unknown[] | undefined)?.at(-1)))) return false;
    if (isObj(node.NullTest)) return false;
    if (isObj(node.ColumnRef)) {
      const fields = Array.isArray(node.ColumnRef.fields) ? node.ColumnRef.fields : [];
      const last = fields[fields.length - 1];
      if (isObj(last) && 'A_Star' in last) return star || (fields.length > 1 && this.rowNames.has(sval(fields[fields.length - 2])));
      const name = sval(last);
      return this.origins.columns.has(name) || (fields.length === 1 && this.rowNames.has(name));
    }
    return Object.values(node).some((v) => this.mentionsMasked(v, star));
  }

  /** Any column reference under `node` outside sizes, counts and null tests. */
  private mentionsColumn(node: unknown): boolean {
    if (Array.isArray(node)) return node.some((n) => this.mentionsColumn(n));
    if (!isObj(node)) return false;
    if (isObj(node.FuncCall) && REVEALS_NOTHING.has(sval((node.FuncCall.funcname as unknown[] | undefined)?.at(-1)))) return false;
    if (isObj(node.NullTest)) return false;
    if (isObj(node.ColumnRef)) return true;
    return Object.values(node).some((v) => this.mentionsColumn(v));
  }

  /** Whether `node` reads a relation with masked columns (by name, any schema). */
  private reads(node: unknown): boolean {
    if (Array.isArray(node)) return node.some((n) => this.reads(n));
    if (!isObj(node)) return false;
    if (typeof node.relname === 'string' && this.masked(node)) return true;
    return Object.values(node).some((v) => this.reads(v));
  }

  private masked(rv: Obj): boolean {
    const rel = rv.relname as string;
    return this.origins.relations.has(typeof rv.schemaname === 'string' ? `${rv.schemaname}.${rel}` : rel);
  }

  /** CTEs whose query reads masked relations: their rows hold masked values too. */
  private readonly maskedCtes = new Set<string>();

  /** Masked relations, CTEs and subqueries over them, with their aliases: the names a whole-row reference uses. */
  private collectRowNames(node: unknown): void {
    if (Array.isArray(node)) {
      for (const n of node) this.collectRowNames(n);
      return;
    }
    if (!isObj(node)) return;
    const cte = isObj(node.CommonTableExpr) ? node.CommonTableExpr : null;
    if (cte && typeof cte.ctename === 'string' && this.reads(cte.ctequery)) {
      this.maskedCtes.add(cte.ctename);
      this.rowNames.add(cte.ctename);
    }
    const alias = isObj(node.alias) ? node.alias.aliasname : undefined;
    if (typeof node.relname === 'string' && (this.masked(node) || this.maskedCtes.has(node.relname))) {
      this.rowNames.add(node.relname);
      if (typeof alias === 'string') this.rowNames.add(alias);
    }
    if ('subquery' in node && typeof alias === 'string' && this.reads(node.subquery)) this.rowNames.add(alias);
    for (const v of Object.values(node)) this.collectRowNames(v);
  }
}

function sval(n: unknown): string {
  return isObj(n) && isObj(n.String) && typeof n.String.sval === 'string' ? n.String.sval : '';
}

function refuse(code: string, message: string, hint: string): Bypass {
  return { code, message: `${message} [${code}]`, hint };
}

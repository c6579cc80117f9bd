// Decides, per SQL string, which classes of right it needs, from PostgreSQL's own parser (libpg-query):
// keyword matching cannot see through comments, dollar quoting or statements hidden in CTEs and subqueries.
// Security first: anything not understood costs more rights ('admin'), never fewer.
import { loadModule, parseSync } from 'libpg-query';
import { POSTGRES_RIGHTS, type PostgresRight } from '../../config/schema.js';
import { functionCallClasses, keepsReadOnly, settingClasses } from './function-safety.js';

export type StatementClass = Exclude<PostgresRight, 'all'>;

/**
 * Names a statement uses that the target's catalogue may bind to user code (see target-catalogue.ts):
 * the parser cannot tell a built-in from a user's object of the same name, the catalogue can.
 */
export interface CodeReferences {
  /** Unqualified function names called. */
  functions: string[];
  /** Field names that attribute notation (`t.f`, `(t).f`) turns into a call of a one-argument f when t has no column f. */
  fields: string[];
  /** Unqualified operator symbols, including those implied by IN, BETWEEN, CASE, USING joins. */
  operators: string[];
  /** Type names as written (`name` or `schema.name`): a cast to a domain runs its CHECK. */
  types: string[];
  /** Relations read, and relations written (INSERT/UPDATE/DELETE/MERGE/COPY FROM/TRUNCATE targets). */
  reads: string[];
  writes: string[];
}

/** What SQL PREPARE stored: the classes and references of its query, judged again at each EXECUTE. */
export interface PreparedQuery {
  classes: StatementClass[];
  references: CodeReferences;
}

export interface StatementClassification {
  node: string;
  classes: StatementClass[];
  references: CodeReferences;
  /** EXECUTE: the prepared names it runs, and the classes of the statement without them. */
  executes?: string[];
  withoutExecutes?: StatementClass[];
  /** PREPARE name AS query. */
  prepare?: { name: string; query: PreparedQuery };
  /** DEALLOCATE name; null for DEALLOCATE ALL. */
  deallocate?: string | null;
  /** DISCARD ALL also drops every prepared statement. */
  discardAll?: boolean;
  /** COMMIT, ROLLBACK and their two-phase forms: a statement after it in the same string starts a new transaction. */
  endsTransaction?: boolean;
}

export interface Classification {
  /** Union over all statements, in POSTGRES_RIGHTS order; [] when there is nothing to run. */
  classes: StatementClass[];
  statements: StatementClassification[];
  /** Names of prepared statements run by EXECUTE: the caller adds what was prepared under those names. */
  executes?: string[];
  parseError?: string;
}


let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the parser's WASM once; later calls share the first load. */
export async function loadClassifier(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true;
    },
    (err: unknown) => {
      loading = undefined; // let a later call retry
      throw err;
    },
  );
  return loading;
}

type Obj = Record<string, unknown>;
/** Times a rule read a literal's value during the current classification (classification-cache.ts needs to know). */
let literalReads = 0;
/** 'exec': runs now. 'inert': only stored or planned (view bodies, defaults, plain EXPLAIN) — calls still count. */
type Mode = 'exec' | 'inert';
type StatementRule = (body: Obj, w: Walker) => void;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const names = (v: unknown): string[] => list(v).map((n) => String((n as { String?: { sval?: string } }).String?.sval ?? ''));
/** `schema.name` from a qualified name list (a database part in front is dropped), or `name`. */
const qualified = (parts: string[]): string => parts.slice(-2).join('.');

/** Collects the classes of one top-level statement by walking its whole AST. */
class Walker {
  readonly classes = new Set<StatementClass>();
  readonly executes: string[] = [];
  readonly refs = { functions: new Set<string>(), fields: new Set<string>(), operators: new Set<string>(), types: new Set<string>(), reads: new Set<string>(), writes: new Set<string>() };
  prepare?: { name: string; query: PreparedQuery };
  deallocate?: string | null;
  discardAll = false;
  endsTransaction = false;

  add(...classes: StatementClass[]): void {
    for (const c of classes) this.classes.add(c);
  }

  references(): CodeReferences {
    const r = this.refs;
    return { functions: [...r.functions], fields: [...r.fields], operators: [...r.operators], types: [...r.types], reads: [...r.reads], writes: [...r.writes] };
  }

  /** An operator by name: qualified outside pg_catalog it is a user's function; unqualified the catalogue decides. */
  operator(op: string[]): void {
    if (op.length > 1) {
      if (op[0] !== 'pg_catalog') this.add('function');
    } else if (op[0]) this.refs.operators.add(op[0]);
  }

  /** A relation the statement writes (it is also read: RETURNING, and a view's own code). */
  written(relation: unknown): void {
    const r = relation as { relname?: unknown; schemaname?: unknown } | undefined;
    if (typeof r?.relname !== 'string') return;
    this.refs.writes.add(typeof r.schemaname === 'string' ? `${r.schemaname}.${r.relname}` : r.relname);
  }

  /** Walks any JSON value; a PascalCase key marks a node (`{ SelectStmt: {...} }`). */
  visit(value: unknown, mode: Mode): void {
    if (Array.isArray(value)) {
      for (const v of value) this.visit(v, mode);
      return;
    }
    if (!isObj(value)) return;
    // RangeVar and TypeName also appear unwrapped (`relation: {...}`, `typeName: {...}`): know them by shape.
    if (typeof value.relname === 'string') this.refs.reads.add(typeof value.schemaname === 'string' ? `${value.schemaname}.${value.relname}` : value.relname);
    if (Array.isArray(value.names) && 'typemod' in value) this.refs.types.add(qualified(names(value.names)));
    for (const [key, child] of Object.entries(value)) {
      if (/^[A-Z]/.test(key) && isObj(child)) this.node(key, child, mode);
      else {
        // SELECT ... INTO creates and fills a table; it sits unwrapped inside SelectStmt (also in UNION arms).
        if (key === 'intoClause' && isObj(child) && mode === 'exec') this.add('ddl', 'write');
        this.visit(child, mode);
      }
    }
  }

  node(type: string, body: Obj, mode: Mode): void {
    const call = CALL_RULES[type];
    if (call) return call(body, this, mode);
    if (mode === 'inert') return this.visit(body, 'inert');
    const rule = STATEMENT_RULES[type];
    if (rule) return rule(body, this);
    const fixed = FIXED[type];
    if (fixed) {
      this.add(...fixed.classes);
      return this.visit(body, fixed.children);
    }
    // A statement type this table does not know: assume the worst.
    if (type.endsWith('Stmt')) this.add('admin');
    this.visit(body, mode);
  }
}

const DDL_ADMIN: StatementClass[] = ['ddl', 'admin'];
const f = (classes: StatementClass[], children: Mode = 'inert') => ({ classes, children });

/** Statements whose classes do not depend on their contents. Children of DDL are 'inert': stored, not run now. */
const FIXED: Record<string, { classes: StatementClass[]; children: Mode }> = {
  VariableShowStmt: f(['read']),
  FetchStmt: f(['read']),
  ClosePortalStmt: f(['read']),
  ListenStmt: f(['read']),
  UnlistenStmt: f(['read']),
  DeclareCursorStmt: f([], 'exec'), // the cursor's query supplies the classes
  NotifyStmt: f(['write']),
  RefreshMatViewStmt: f(['write', 'ddl']), // swaps the view's storage in pg_class under an ACCESS EXCLUSIVE lock, like TRUNCATE
  LockStmt: f(['write']), // every lock mode: even ACCESS SHARE can hold up DDL of others
  LockingClause: f(['write'], 'exec'), // SELECT ... FOR UPDATE/SHARE takes row locks
  // TruncateStmt: destructive, skips row triggers and takes an ACCESS EXCLUSIVE lock (in STATEMENT_RULES)
  ConstraintsSetStmt: f(['transaction']),
  // DDL
  CreateStmt: f(['ddl']), IndexStmt: f(['ddl']), ViewStmt: f(['ddl']), CreateSeqStmt: f(['ddl']),
  AlterSeqStmt: f(['ddl']), DefineStmt: f(['ddl']), CompositeTypeStmt: f(['ddl']), CreateEnumStmt: f(['ddl']),
  CreateRangeStmt: f(['ddl']), AlterEnumStmt: f(['ddl']), AlterTypeStmt: f(['ddl']), CreateDomainStmt: f(['ddl']),
  AlterDomainStmt: f(['ddl']), CreateFunctionStmt: f(['ddl']), AlterFunctionStmt: f(['ddl']),
  CreateTrigStmt: f(['ddl']), RuleStmt: f(['ddl']), CommentStmt: f(['ddl']), AlterObjectSchemaStmt: f(['ddl']),
  AlterObjectDependsStmt: f(['ddl']), CreateStatsStmt: f(['ddl']), AlterStatsStmt: f(['ddl']),
  CreateCastStmt: f(['ddl']), CreateConversionStmt: f(['ddl']), CreateOpClassStmt: f(['ddl']),
  CreateOpFamilyStmt: f(['ddl']), AlterOpFamilyStmt: f(['ddl']), AlterOperatorStmt: f(['ddl']),
  AlterCollationStmt: f(['ddl']), AlterTSDictionaryStmt: f(['ddl']), AlterTSConfigurationStmt: f(['ddl']),
  ReplicaIdentityStmt: f(['ddl']), CreateForeignTableStmt: f(['ddl']), ImportForeignSchemaStmt: f(['ddl']),
  CreateTransformStmt: f(['ddl']),
  // DDL that reaches beyond the schema: access control, server-side code, cluster-wide objects
  AlterOwnerStmt: f(DDL_ADMIN), CreatePolicyStmt: f(DDL_ADMIN), AlterPolicyStmt: f(DDL_ADMIN),
  SecLabelStmt: f(DDL_ADMIN), CreateExtensionStmt: f(DDL_ADMIN), AlterExtensionStmt: f(DDL_ADMIN),
  AlterExtensionContentsStmt: f(DDL_ADMIN), CreatePLangStmt: f(DDL_ADMIN), CreateAmStmt: f(DDL_ADMIN),
  CreateEventTrigStmt: f(DDL_ADMIN), AlterEventTrigStmt: f(DDL_ADMIN), CreateFdwStmt: f(DDL_ADMIN),
  AlterFdwStmt: f(DDL_ADMIN), CreateForeignServerStmt: f(DDL_ADMIN), AlterForeignServerStmt: f(DDL_ADMIN),
  CreateUserMappingStmt: f(DDL_ADMIN), AlterUserMappingStmt: f(DDL_ADMIN), DropUserMappingStmt: f(DDL_ADMIN),
  CreatePublicationStmt: f(DDL_ADMIN), AlterPublicationStmt: f(DDL_ADMIN), CreateSubscriptionStmt: f(DDL_ADMIN),
  AlterSubscriptionStmt: f(DDL_ADMIN), DropSubscriptionStmt: f(DDL_ADMIN), CreateTableSpaceStmt: f(DDL_ADMIN),
  DropTableSpaceStmt: f(DDL_ADMIN), AlterTableSpaceOptionsStmt: f(DDL_ADMIN), AlterTableMoveAllStmt: f(DDL_ADMIN),
  CreatedbStmt: f(DDL_ADMIN), DropdbStmt: f(DDL_ADMIN), AlterDatabaseStmt: f(DDL_ADMIN),
  AlterDatabaseSetStmt: f(DDL_ADMIN), AlterDatabaseRefreshCollStmt: f(DDL_ADMIN), DropOwnedStmt: f(DDL_ADMIN),
  ReassignOwnedStmt: f(DDL_ADMIN),
  // roles, privileges, server administration and maintenance
  CreateRoleStmt: f(['admin']), AlterRoleStmt: f(['admin']), AlterRoleSetStmt: f(['admin']),
  DropRoleStmt: f(['admin']), GrantStmt: f(['admin']), GrantRoleStmt: f(['admin']),
  AlterDefaultPrivilegesStmt: f(['admin']), AlterSystemStmt: f(['admin']), LoadStmt: f(['admin']),
  VacuumStmt: f(['admin']), ClusterStmt: f(['admin']), ReindexStmt: f(['admin']), CheckPointStmt: f(['admin']),
  // bodies of SQL-standard functions (BEGIN ATOMIC ... / RETURN ...): only reached in 'inert' mode
  ReturnStmt: f([]),
};

/** Drop/rename of these object types is administration, not schema work. */
const ADMIN_OBJECTS = new Set([
  'OBJECT_EXTENSION', 'OBJECT_EVENT_TRIGGER', 'OBJECT_LANGUAGE', 'OBJECT_FDW', 'OBJECT_FOREIGN_SERVER',
  'OBJECT_ACCESS_METHOD', 'OBJECT_PUBLICATION', 'OBJECT_SUBSCRIPTION', 'OBJECT_POLICY', 'OBJECT_ROLE',
  'OBJECT_DATABASE', 'OBJECT_TABLESPACE',
]);
/** ALTER TABLE sub-commands that change who may see or own rows. */
const ADMIN_TABLE_CMDS = new Set([
  'AT_ChangeOwner', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity', 'AT_NoForceRowSecurity',
]);
const TRANSACTION_ENDS = new Set(['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);
const TWO_PHASE = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);

/** EXPLAIN runs its statement only with ANALYZE; an option whose value is not plainly false counts as on. */
function explainAnalyzes(options: unknown): boolean {
  return list(options).some((o) => {
    const def = (o as { DefElem?: { defname?: string; arg?: Obj } }).DefElem;
    if (def?.defname !== 'analyze') return false;
    const arg = def.arg;
    if (!arg) return true;
    literalReads++;
    const s = (arg.String as { sval?: string } | undefined)?.sval;
    if (s !== undefined) return !FALSE_WORDS.has(s.toLowerCase());
    if (isObj(arg.Integer)) return Boolean(arg.Integer.ival);
    if (isObj(arg.Boolean)) return Boolean(arg.Boolean.boolval);
    return true;
  });
}

/** The text of a literal (`'off'`, `on`, `0`, `true`), or undefined for anything else. */
function literalOf(node: unknown): string | undefined {
  literalReads++;
  const c = (node as { A_Const?: Obj } | undefined)?.A_Const;
  if (!c) return undefined;
  if (isObj(c.sval)) return String(c.sval.sval ?? '');
  if (isObj(c.ival)) return String(c.ival.ival ?? 0);
  if (isObj(c.boolval)) return c.boolval.boolval ? 'true' : 'false';
  return undefined;
}

/** Transaction options (`READ WRITE`, `transaction_read_only = ...`) that leave read-only mode. */
function setsReadWrite(options: unknown): boolean {
  return list(options).some((o) => {
    const def = (o as { DefElem?: { defname?: string; arg?: unknown } }).DefElem;
    return def?.defname === 'transaction_read_only' && !keepsReadOnly(literalOf(def.arg));
  });
}

/** DML: 'write', plus 'read' when it returns rows or reads other relations (UPDATE ... FROM, DELETE ... USING). */
function dml(readKeys: string[]): StatementRule {
  return (body, w) => {
    w.add('write');
    w.written(body.relation);
    if (readKeys.some((k) => list(body[k]).length > 0)) w.add('read');
    w.visit(body, 'exec');
  };
}

/** Statements whose classes depend on their contents; called in 'exec' mode only. */
const STATEMENT_RULES: Record<string, StatementRule> = {
  SelectStmt: (body, w) => {
    w.add('read');
    w.visit(body, 'exec');
  },
  InsertStmt: (body, w) => {
    const source = (body.selectStmt as { SelectStmt?: Obj } | undefined)?.SelectStmt;
    // INSERT ... VALUES reads nothing: walk the VALUES lists without counting them as a SELECT.
    const { selectStmt: _skip, ...rest } = body;
    w.written(body.relation);
    dml(['returningList'])(source?.valuesLists ? rest : body, w);
    if (source?.valuesLists) w.visit(source, 'exec');
  },
  UpdateStmt: dml(['returningList', 'fromClause']),
  DeleteStmt: dml(['returningList', 'usingClause']),
  MergeStmt: (body, w) => {
    w.add('write', 'read'); // MERGE always reads its source
    w.written(body.relation);
    w.visit(body, 'exec');
  },
  CopyStmt: (body, w) => {
    w.add(body.is_from ? 'write' : 'read');
    if (body.is_from) w.written(body.relation);
    if (body.is_program || body.filename !== undefined) w.add('admin'); // server-side program or file
    w.visit(body, 'exec');
  },
  ExplainStmt: (body, w) => {
    w.add('read');
    w.visit(body.query, explainAnalyzes(body.options) ? 'exec' : 'inert');
  },
  CreateTableAsStmt: (body, w) => {
    w.add('ddl', 'write'); // CREATE TABLE AS / CREATE MATERIALIZED VIEW create and fill
    w.visit(body, 'exec');
  },
  PrepareStmt: (body, w) => {
    // The query is judged on its own, so that EXECUTE can be judged by what was prepared.
    const inner = new Walker();
    inner.visit(body.query, 'exec');
    const query = { classes: sorted(inner.classes), references: inner.references() };
    w.prepare = { name: String(body.name ?? ''), query };
    w.add('session', ...inner.classes); // whoever may prepare it may run it
    w.visit(body.query, 'exec');
  },
  VariableSetStmt: (body, w) => {
    const name = String(body.name ?? '');
    if (name === 'TRANSACTION' || name === 'SESSION CHARACTERISTICS') {
      // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...: READ WRITE lifts read-only.
      w.add(name === 'TRANSACTION' ? 'transaction' : 'session');
      if (setsReadWrite(body.args)) w.add('write');
    } else if (body.kind === 'VAR_RESET_ALL') w.add('session'); // RESET ALL leaves role and session_authorization
    else w.add(...settingClasses(name, body.kind === 'VAR_SET_VALUE' ? literalOf(list(body.args)[0]) : undefined));
    w.visit(body.args, 'exec');
  },
  // DISCARD ALL keeps the role and settings the gateway gave the backend at startup (they are its defaults).
  DiscardStmt: (body, w) => {
    w.add('session');
    if (body.target === 'DISCARD_ALL') w.discardAll = true;
  },
  DeallocateStmt: (body, w) => {
    w.add('session');
    w.deallocate = body.isall ? null : String(body.name ?? '');
  },
  TransactionStmt: (body, w) => {
    w.add('transaction');
    if (TWO_PHASE.has(String(body.kind))) w.add('admin'); // prepared transactions outlive the session
    if (setsReadWrite(body.options)) w.add('write'); // BEGIN / START TRANSACTION READ WRITE
    if (TRANSACTION_ENDS.has(String(body.kind))) w.endsTransaction = true;
  },
  TruncateStmt: (body, w) => {
    w.add('write', 'ddl');
    for (const r of list(body.relations)) w.written((r as { RangeVar?: unknown }).RangeVar); // TRUNCATE triggers
    w.visit(body, 'inert');
  },
  DropStmt: (body, w) => {
    w.add('ddl');
    if (ADMIN_OBJECTS.has(String(body.removeType))) w.add('admin');
    w.visit(body, 'inert');
  },
  RenameStmt: (body, w) => {
    w.add('ddl');
    if (ADMIN_OBJECTS.has(String(body.renameType))) w.add('admin');
  },
  AlterTableStmt: (body, w) => {
    w.add('ddl');
    const subtypes = list(body.cmds).map((c) => String((c as { AlterTableCmd?: Obj }).AlterTableCmd?.subtype));
    if (subtypes.some((s) => ADMIN_TABLE_CMDS.has(s))) w.add('admin');
    w.visit(body, 'inert'); // USING / DEFAULT expressions: their function calls still count
  },
  CreateSchemaStmt: (body, w) => {
    w.add('ddl');
    if (body.authrole) w.add('admin'); // AUTHORIZATION hands the schema to another role
    w.visit(body.schemaElts, 'exec');
  },
};

/** Nodes that run code wherever they appear, even inside view bodies, defaults or a plain EXPLAIN. */
const CALL_RULES: Record<string, (body: Obj, w: Walker, mode: Mode) => void> = {
  FuncCall: (body, w, mode) => {
    const fn = names(body.funcname);
    if (fn[fn.length - 1]?.toLowerCase() === 'set_config') literalReads++; // its literal arguments decide (function-safety.ts)
    if (fn.length === 1 && fn[0]) w.refs.functions.add(fn[0]);
    w.add(...functionCallClasses(fn, list(body.args), body.funcformat === 'COERCE_SQL_SYNTAX'));
    w.visit(body, mode);
  },
  CallStmt: (body, w, mode) => {
    w.add('code'); // procedures may COMMIT, run dynamic SQL, anything
    w.visit((body.funccall as Obj | undefined)?.args, mode);
  },
  DoStmt: (_body, w) => w.add('code'),
  ExecuteStmt: (body, w, mode) => {
    // Needs what was prepared under that name: the caller resolves `executes`, 'function' until then.
    w.executes.push(String(body.name ?? ''));
    w.visit(body.params, mode);
  },
  ColumnRef: (body, w) => {
    // `t.f` is a call of f(t) when t has no column f (attribute notation).
    for (const field of names(body.fields).slice(1)) if (field) w.refs.fields.add(field);
  },
  A_Indirection: (body, w, mode) => {
    for (const field of names(body.indirection)) if (field) w.refs.fields.add(field);
    w.visit(body, mode);
  },
  SortBy: (body, w, mode) => {
    if (list(body.useOp).length) w.operator(names(body.useOp)); // ORDER BY x USING op
    w.visit(body, mode);
  },
  SubLink: (body, w, mode) => {
    if (list(body.operName).length) w.operator(names(body.operName)); // x op ANY (subquery)
    w.visit(body, mode);
  },
  JoinExpr: (body, w, mode) => {
    if (list(body.usingClause).length) w.operator(['=']);
    w.visit(body, mode);
  },
  CaseExpr: (body, w, mode) => {
    if (body.arg) w.operator(['=']); // CASE x WHEN v compares with =
    w.visit(body, mode);
  },
  RangeTableSample: (body, w, mode) => {
    const method = names(body.method);
    if (!['bernoulli', 'system'].includes(method[method.length - 1] ?? '') || method.length > 1) w.add('function');
    w.visit(body, mode);
  },
  A_Expr: (body, w, mode) => {
    const op = names(body.name); // OPERATOR(schema.op) may name a user's operator, hence a user's function
    if (String(body.kind).startsWith('AEXPR_BETWEEN') || String(body.kind).startsWith('AEXPR_NOT_BETWEEN')) {
      for (const implied of ['>=', '<=', '<', '>']) w.operator([implied]);
    } else w.operator(op);
    w.visit(body, mode);
  },
};

const RIGHT_ORDER = (a: StatementClass, b: StatementClass) => POSTGRES_RIGHTS.indexOf(a) - POSTGRES_RIGHTS.indexOf(b);
const sorted = (s: Iterable<StatementClass>) => [...s].sort(RIGHT_ORDER);

/** Characters PostgreSQL itself treats as whitespace (the parser's JS wrapper uses the wider String.trim). */
const PG_BLANK = /^[ \t\n\r\f\v]*$/;

function refuse(reason: string): Classification {
  // references stay empty: a statement that does not parse is refused before any catalogue check
  return { classes: ['admin'], statements: [], parseError: reason };
}

/** Classifies a SQL string (one or many statements). Synchronous; `loadClassifier()` must have completed. */
export function classifyStatement(sql: string): Classification {
  return classifyReadingLiterals(sql).classification;
}

/**
 * classifyStatement, and whether a literal's value decided any part of the result (a setting's value, set_config's
 * arguments, an EXPLAIN option): only a classification that read none holds for every statement of the same shape.
 */
export function classifyReadingLiterals(sql: string): { classification: Classification; readsLiterals: boolean } {
  literalReads = 0;
  const classification = classify(sql);
  return { classification, readsLiterals: literalReads > 0 };
}

function classify(sql: string): Classification {
  if (!loaded) throw new Error('statement classifier used before loadClassifier() completed');
  if (PG_BLANK.test(sql)) return { classes: [], statements: [] };
  // The wire protocol ends the query at NUL; the WASM parser would too. Never judge a truncated text.
  if (sql.includes('\0')) return refuse('query text contains a NUL byte');
  let stmts: unknown[];
  try {
    stmts = list((parseSync(sql) as { stmts?: unknown }).stmts);
  } catch (err) {
    const e = err as { message?: string; sqlDetails?: { cursorPosition?: number } };
    const at = e.sqlDetails?.cursorPosition;
    return refuse(`${e.message ?? String(err)}${at === undefined ? '' : ` (at offset ${at})`}`);
  }
  try {
    const all = new Set<StatementClass>();
    const executes: string[] = [];
    const statements = stmts.flatMap((raw) => {
      const stmt = (raw as { stmt?: unknown }).stmt;
      if (!isObj(stmt)) return [];
      const [node = 'unknown', body] = Object.entries(stmt)[0] ?? [];
      const w = new Walker();
      w.node(node, isObj(body) ? body : {}, 'exec');
      const entry: StatementClassification = { node, classes: sorted(w.classes), references: w.references() };
      if (w.executes.length) {
        entry.withoutExecutes = entry.classes;
        entry.classes = sorted(new Set([...w.classes, 'function' as const])); // unknown until the caller resolves them
        entry.executes = w.executes;
        executes.push(...w.executes);
      }
      if (w.prepare) entry.prepare = w.prepare;
      if (w.deallocate !== undefined) entry.deallocate = w.deallocate;
      if (w.discardAll) entry.discardAll = true;
      if (w.endsTransaction) entry.endsTransaction = true;
      for (const c of entry.classes) all.add(c);
      return [entry];
    });
    return { classes: sorted(all), statements, ...(executes.length > 0 ? { executes } : {}) };
  } catch (err) {
    // e.g. a stack overflow on absurdly deep nesting: refuse rather than guess.
    return refuse(`could not classify: ${(err as Error).message}`);
  }
}

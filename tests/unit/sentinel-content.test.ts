/**
 * The Sentinel content in dashboards/sentinel/ as Azure would take it: every KQL query (DCR
 * transformations, analytics rules, workbook) analyzed by Microsoft's Kusto language service against
 * the shipped table schemas with no error; the stream declaration equal to what the sink sends; the rules
 * in the Azure-Sentinel repository's YAML format within its limits.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { STREAM_COLUMNS } from '../../connectors/sentinel/columns.js';
import { SentinelConfig } from '../../connectors/sentinel/config.js';
import { validateConfig } from '../../services/config/load.js';
import { encodeRow } from '../../connectors/sentinel/encoder.js';
import { syntheticSession } from '../support/synthetic-records.js';
import { KustoDatabase, type TableSchema } from '../support/kusto.js';

const dir = 'dashboards/sentinel';
const readJson = <T>(file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;

interface Dcr {
  kind: string;
  properties: {
    streamDeclarations: Record<string, { columns: { name: string; type: string }[] }>;
    dataFlows: { streams: string[]; destinations: string[]; transformKql: string; outputStream: string }[];
    destinations: { logAnalytics: { name: string }[] };
  };
}
const dcr = readJson<Dcr>('dcr.json');
const table = readJson<{ properties: { schema: TableSchema } }>('table.json').properties.schema;
const asim = readdirSync(join(dir, 'schemas')).map((f) => readJson<TableSchema>(join('schemas', f)));
const streamColumns = dcr.properties.streamDeclarations['Custom-TrailgateAudit']!.columns;
const workspace = new KustoDatabase([table, ...asim]);
const source = new KustoDatabase([{ name: 'source', columns: streamColumns }]);

const RESERVED = new Set(['_ResourceId', 'id', '_SubscriptionId', 'TenantId', 'Type', 'UniqueId', 'Title']);
/**
 * What a DCR transformation may use: it runs on one record at a time, with the operators and
 * functions listed in "Supported KQL features in Azure Monitor transformations"
 * (MicrosoftDocs/azure-monitor-docs, articles/azure-monitor/data-collection/data-collection-transformations-kql.md).
 */
const DCR_OPERATORS = new Set(['extend', 'project', 'print', 'where', 'parse', 'project-away', 'project-rename', 'datatable', 'columnifexists']);
const DCR_FUNCTIONS = new Set([
  'binary_and', 'binary_or', 'binary_not', 'binary_shift_left', 'binary_shift_right', 'binary_xor',
  'tobool', 'todatetime', 'todouble', 'toreal', 'toguid', 'toint', 'tolong', 'tostring', 'totimespan',
  'ago', 'datetime_add', 'datetime_diff', 'datetime_part', 'dayofmonth', 'dayofweek', 'dayofyear', 'endofday', 'endofmonth', 'endofweek', 'endofyear', 'getmonth', 'getyear', 'hourofday', 'make_datetime', 'make_timespan', 'now', 'startofday', 'startofmonth', 'startofweek', 'startofyear', 'weekofyear',
  'array_concat', 'array_length', 'pack_array', 'pack', 'parse_json', 'parse_xml', 'zip',
  'abs', 'bin', 'floor', 'ceiling', 'exp', 'exp10', 'exp2', 'isfinite', 'isinf', 'isnan', 'log', 'log10', 'log2', 'pow', 'round', 'sign',
  'case', 'iif', 'max_of', 'min_of',
  'base64_encodestring', 'base64_decodestring', 'countof', 'extract', 'extract_all', 'indexof', 'isempty', 'isnotempty', 'split', 'strcat', 'strcat_delim', 'strlen', 'substring', 'tolower', 'toupper', 'hash_sha256',
  'gettype', 'isnotnull', 'isnull', 'parse_cef_dictionary', 'geo_location',
]);

/** Operators and functions of a transformation that Azure would refuse. */
function outsideDcrSubset(kql: string): string[] {
  const code = kql.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  const operators = [...code.matchAll(/\|\s*([a-z][a-z-]*)/g)].map((m) => m[1]!).filter((op) => !DCR_OPERATORS.has(op));
  const functions = [...code.matchAll(/\b([a-z_][a-z0-9_]*)\s*\(/g)].map((m) => m[1]!).filter((f) => !DCR_FUNCTIONS.has(f) && !['in', 'and', 'or', 'not'].includes(f));
  return [...operators, ...functions];
}
const kqlTypeOf = (t: string) => (t === 'boolean' ? 'bool' : t);

describe('the data collection rule', () => {
  it('declares exactly the columns the sink sends, in the table and in the stream', () => {
    assert.deepEqual(streamColumns, Object.entries(STREAM_COLUMNS).map(([name, type]) => ({ name, type })));
    assert.deepEqual(table.columns, streamColumns);
    assert.equal(table.name, 'TrailgateAudit_CL');
    for (const c of streamColumns) {
      assert.match(c.name, /^[A-Za-z][A-Za-z0-9_]{0,44}$/, `column ${c.name} is a valid name`);
      assert.ok(!RESERVED.has(c.name), `column ${c.name} is not reserved`);
    }
    assert.equal(dcr.kind, 'Direct');
  });

  it('gets rows from the encoder that fit the declaration', () => {
    const types = new Map(streamColumns.map((c) => [c.name, c.type]));
    for (const record of syntheticSession()) {
      const encoded = encodeRow(record, { maxFieldBytes: 32 * 1024, streams: ['events', 'bytes'] });
      assert.equal(encoded.kind, 'row');
      if (encoded.kind !== 'row') continue;
      for (const [k, v] of Object.entries(encoded.row)) {
        const type = types.get(k);
        assert.ok(type, `${record.type}: column ${k} is declared`);
        if (type === 'string') assert.equal(typeof v, 'string', `${record.type}.${k}`);
        if (type === 'long' || type === 'int') assert.ok(Number.isInteger(v), `${record.type}.${k}`);
        if (type === 'boolean') assert.equal(typeof v, 'boolean', `${record.type}.${k}`);
      }
    }
  });

  for (const flow of dcr.properties.dataFlows) {
    it(`transforms into ${flow.outputStream} with a query the Kusto analyzer accepts`, () => {
      assert.match(flow.outputStream, /^(Custom-\w+_CL|Microsoft-\w+)$/);
      assert.deepEqual(flow.streams, ['Custom-TrailgateAudit']);
      assert.ok(flow.destinations.every((d) => dcr.properties.destinations.logAnalytics.some((l) => l.name === d)));
      assert.deepEqual(outsideDcrSubset(flow.transformKql), [], 'only operators and functions transformations support');
      const { errors, columns } = source.analyze(flow.transformKql);
      assert.deepEqual(errors, []);
      assert.deepEqual(columns.find((c) => c.name === 'TimeGenerated'), { name: 'TimeGenerated', type: 'datetime' }, 'the output has TimeGenerated');
      const target = flow.outputStream.startsWith('Custom-') ? table : asim.find((t) => `Microsoft-${t.name}` === flow.outputStream);
      assert.ok(target, `the schema of ${flow.outputStream} is shipped`);
      const declared = new Map(target.columns.map((c) => [c.name, kqlTypeOf(c.type)]));
      for (const c of columns) assert.equal(c.type, declared.get(c.name), `${flow.outputStream}: output column ${c.name} exists in the table with type ${c.type}`);
    });
  }

  it('has a subset check that can fail: multi-row operators and unlisted functions are named', () => {
    assert.deepEqual(outsideDcrSubset("source | summarize count() by Kind | extend X = coalesce(A, 'summarize(')"), ['summarize', 'count', 'coalesce']);
  });

  it('has a check that can fail: an unknown column is an error', () => {
    assert.match(source.analyze('source | project TimeGenerated, NoSuchColumn').errors.join(), /KS142/);
    assert.match(workspace.analyze('ASimAuditEventLogs | where Operatoin == "x"').errors.join(), /KS142/);
  });
});

const FREQUENCY = /^(\d+)([mhd])$/;
const minutes = (v: string) => {
  const m = FREQUENCY.exec(v);
  assert.ok(m, `${v} is a duration like 5m, 1h or 14d`);
  return Number(m[1]) * { m: 1, h: 60, d: 1440 }[m[2] as 'm' | 'h' | 'd'];
};
const TACTICS = ['Reconnaissance', 'ResourceDevelopment', 'InitialAccess', 'Execution', 'Persistence', 'PrivilegeEscalation', 'DefenseEvasion', 'CredentialAccess', 'Discovery', 'LateralMovement', 'Collection', 'CommandAndControl', 'Exfiltration', 'Impact'];

describe('the analytics rules', () => {
  const files = readdirSync(join(dir, 'analytics-rules')).filter((f) => f.endsWith('.yaml'));
  it('are the five detections of the Kibana content', () => {
    const kibana = readFileSync('dashboards/kibana/detection-rules.ndjson', 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name.replace(/^Trailgate: /, ''));
    const names = files.map((f) => (parse(readFileSync(join(dir, 'analytics-rules', f), 'utf8')) as { name: string }).name.replace(/^Trailgate - /, ''));
    assert.deepEqual(names.sort(), kibana.sort(), 'one analytics rule per Kibana detection, with the same name');
  });

  for (const file of files) {
    it(`${file} follows the Azure-Sentinel rule format and its query analyzes without error`, () => {
      const rule = parse(readFileSync(join(dir, 'analytics-rules', file), 'utf8')) as Record<string, unknown> & {
        query: string;
        entityMappings: { entityType: string; fieldMappings: { identifier: string; columnName: string }[] }[];
      };
      for (const key of ['id', 'name', 'description', 'severity', 'requiredDataConnectors', 'queryFrequency', 'queryPeriod', 'triggerOperator', 'triggerThreshold', 'tactics', 'relevantTechniques', 'query', 'entityMappings', 'version', 'kind']) {
        assert.ok(key in rule, `${file} has ${key}`);
      }
      assert.match(String(rule.id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.ok(String(rule.name).length <= 256 && String(rule.description).length <= 5000);
      assert.ok(['Informational', 'Low', 'Medium', 'High'].includes(String(rule.severity)));
      assert.ok(['gt', 'lt', 'eq', 'ne'].includes(String(rule.triggerOperator)));
      assert.ok(Number(rule.triggerThreshold) >= 0 && Number(rule.triggerThreshold) <= 10000);
      const frequency = minutes(String(rule.queryFrequency));
      const period = minutes(String(rule.queryPeriod));
      assert.ok(frequency >= 5 && frequency <= 14 * 1440 && period >= 5 && period <= 14 * 1440 && period >= frequency, 'frequency and period within 5m..14d, period not shorter');
      assert.ok((rule.tactics as string[]).every((t) => TACTICS.includes(t)));
      assert.ok((rule.relevantTechniques as string[]).every((t) => /^T\d{4}(\.\d{3})?$/.test(t)));
      assert.equal(rule.kind, 'Scheduled');
      assert.match(String(rule.version), /^\d+\.\d+\.\d+$/);
      assert.ok(rule.query.length <= 10_000);
      const { errors, columns } = workspace.analyze(rule.query);
      assert.deepEqual(errors, []);
      assert.ok(rule.entityMappings.length >= 1 && rule.entityMappings.length <= 5);
      for (const m of rule.entityMappings) {
        assert.ok(m.fieldMappings.length <= 3);
        for (const f of m.fieldMappings) assert.ok(columns.some((c) => c.name === f.columnName), `${file}: entity column ${f.columnName} is in the query's result`);
      }
    });
  }
});

describe('the workbook', () => {
  const workbook = readJson<{ version: string; items: { type: number; content: { query?: string; title?: string } }[] }>('workbook.json');
  it('is a workbook whose every query analyzes without error (the time range parameter filled in as the workbook does)', () => {
    assert.equal(workbook.version, 'Notebook/1.0');
    const queries = workbook.items.filter((i) => i.type === 3);
    assert.ok(queries.length >= 5);
    for (const q of queries) {
      const { errors } = workspace.analyze(q.content.query!.replaceAll('{TimeRange}', '> ago(1d)'));
      assert.deepEqual(errors, [], q.content.title);
    }
  });
});

describe('the sentinel section of trailgate.yaml', () => {
  it('is valid configuration once uncommented, with every key the schema takes', () => {
    const text = readFileSync('trailgate.yaml', 'utf8');
    const section = text.slice(text.indexOf('\n# sentinel:') + 1).split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^# ?/, '')).join('\n');
    const config = validateConfig(parse(section) as Record<string, unknown>);
    assert.equal(config.sentinel?.stream, 'Custom-TrailgateAudit');
    assert.equal(config.sentinel?.credential.kind, 'client-secret');
    const documented = Object.keys((parse(section) as { sentinel: Record<string, unknown> }).sentinel);
    for (const key of Object.keys(SentinelConfig.shape)) assert.ok(documented.includes(key) || text.includes(`#   # ${key}:`), `sentinel.${key} is documented`);
  });
});

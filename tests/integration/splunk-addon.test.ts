/**
 * The Splunk add-on in dashboards/splunk/TA-trailgate, checked by Splunk's own tooling and data:
 * splunk-appinspect (PyPI) passes the packaged add-on with no error or failure, and every CIM field
 * and tag it produces exists in the CIM data model definitions shipped in the pytest-splunk-addon
 * wheel (tests/services/splunk-tools.sh installs both). Every field the add-on reads exists in the
 * envelope the forwarder sends.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { forwardedEnvelope } from '../../connectors/splunk/encoder.js';
import { EVENT_TYPES, newSessionId } from '../../events/index.js';
import { SAMPLE_DATA, syntheticRecord } from '../support/synthetic-records.js';

const exec = promisify(execFile);
const addon = resolve(import.meta.dirname, '../../dashboards/splunk/TA-trailgate');

type Conf = Map<string, Map<string, string>>;

function readConf(file: string): Conf {
  const conf: Conf = new Map();
  let stanza: Map<string, string> | null = null;
  for (const raw of readFileSync(join(addon, 'default', file), 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) conf.set(head[1]!, (stanza = new Map()));
    else {
      const eq = line.indexOf('=');
      assert.ok(stanza && eq > 0, `${file}: a key = value line inside a stanza: ${line}`);
      stanza.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
  }
  return conf;
}

interface Dataset {
  name: string;
  model: string;
  tags: string[][];
  fields: { name: string; type: string; expected_values?: string[] }[];
  child_dataset?: Dataset[];
  /** Required fields of this dataset and the datasets above it. */
  required: string[];
}

function datasets(dir: string, models: string[]): Dataset[] {
  const out: Dataset[] = [];
  const walk = (list: Dataset[], model: string, inherited: string[]) => {
    for (const d of list) {
      const required = [...inherited, ...d.fields.filter((f) => f.type === 'required').map((f) => f.name)];
      out.push({ ...d, model, required });
      walk(d.child_dataset ?? [], model, required);
    }
  };
  for (const m of models) walk((JSON.parse(readFileSync(join(dir, `${m}.json`), 'utf8')) as { objects: Dataset[] }).objects, m, []);
  return out;
}

/** Field names as Splunk's JSON extraction names them: `a.b`, arrays as `a{}`. */
function splunkFieldNames(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) splunkFieldNames(v, `${prefix}{}`, out);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) splunkFieldNames(v, prefix ? `${prefix}.${k}` : k, out);
  else if (prefix) out.add(prefix);
  return out;
}

const CIM_MODELS = ['Authentication', 'Databases', 'Change', 'Endpoint'];

describe('the Splunk add-on (TA-trailgate)', () => {
  let work: string;
  const appinspect = process.env.TG_APPINSPECT;
  const modelsDir = process.env.TG_CIM_DATA_MODELS;

  before(() => {
    assert.ok(appinspect && modelsDir, 'tests/services/splunk-tools.sh install must run first (TG_APPINSPECT, TG_CIM_DATA_MODELS)');
    work = mkdtempSync(join(tmpdir(), 'trailgate-addon-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('splunk-appinspect passes the packaged add-on with no error, failure or warning', async () => {
    const pkg = join(work, 'TA-trailgate.tgz');
    await exec('tar', ['czf', pkg, '-C', resolve(addon, '..'), 'TA-trailgate']);
    const out = join(work, 'appinspect.json');
    await exec(appinspect!, ['inspect', pkg, '--mode', 'precert', '--data-format', 'json', '--output-file', out], { cwd: work, maxBuffer: 16 * 1024 * 1024 });
    const report = JSON.parse(readFileSync(out, 'utf8')) as { summary: Record<string, number>; reports: { groups: { checks: { name: string; result: string; messages: { message: string }[] }[] }[] }[] };
    const bad = report.reports.flatMap((r) => r.groups.flatMap((g) => g.checks)).filter((c) => ['error', 'failure', 'future_failure', 'warning'].includes(c.result));
    assert.deepEqual(bad.map((c) => `${c.result} ${c.name}: ${c.messages.map((m) => m.message).join(' / ')}`), []);
    assert.equal(report.summary.error, 0);
    assert.equal(report.summary.failure, 0);
    assert.ok(report.summary.success! > 50, 'appinspect ran its checks');
  });

  it('puts events into Authentication, Databases, Change and Endpoint with tags and fields those data models define', () => {
    const all = datasets(modelsDir!, CIM_MODELS);
    const cimFields = new Set(all.flatMap((d) => d.fields.map((f) => f.name)));
    const props = readConf('props.conf').get('trailgate:audit')!;
    const produced = new Map<string, string>();
    for (const [key, value] of props) {
      if (key.startsWith('EVAL-')) produced.set(key.slice(5), value);
      if (key.startsWith('FIELDALIAS-')) for (const m of value.matchAll(/("[^"]+"|\S+)\s+AS\s+(\S+)/g)) produced.set(m[2]!, `alias of ${m[1]}`);
    }
    assert.deepEqual([...produced.keys()].filter((f) => !cimFields.has(f)), [], 'every field the add-on produces is a CIM field');

    const eventtypes = readConf('eventtypes.conf');
    const tags = readConf('tags.conf');
    const reached = new Set<string>();
    for (const [stanza, values] of tags) {
      const eventtype = stanza.replace(/^eventtype=/, '');
      assert.ok(eventtypes.has(eventtype), `tags.conf names eventtype ${eventtype}, which eventtypes.conf defines`);
      const on = [...values].filter(([, v]) => v === 'enabled').map(([t]) => t);
      // A data set takes an event that carries every tag of one of its tag lists.
      const matched = all.filter((d) => d.tags.some((list) => list.every((t) => on.includes(t))));
      assert.ok(matched.length > 0, `eventtype ${eventtype} (tags ${on.join(', ')}) lands in a CIM data set`);
      for (const t of on) assert.ok(matched.some((d) => d.tags.some((list) => list.includes(t))), `tag ${t} of ${eventtype} belongs to a data set it lands in`);
      const type = /(?:^|\s)type="([^"]+)"/.exec(eventtypes.get(eventtype)!.get('search')!)![1]!;
      for (const d of matched) {
        reached.add(d.model);
        for (const field of d.required) {
          const how = produced.get(field);
          assert.ok(how, `${d.model}/${d.name} requires ${field}; the add-on produces it for ${eventtype}`);
          // A conditional EVAL must have a branch for this eventtype's records.
          if (how.includes('type==')) assert.ok(how.includes(`"${type}"`), `EVAL-${field} has a branch for ${type} records (${eventtype})`);
        }
      }
    }
    assert.deepEqual([...reached].sort(), [...CIM_MODELS].sort(), 'the add-on reaches all four data models');
    // The values the action branches set are the ones the data sets expect.
    const action = produced.get('action')!;
    const expected = (model: string, dataset: string) => all.find((d) => d.model === model && d.name === dataset)!.fields.find((f) => f.name === 'action')!.expected_values!;
    const authBranch = /type=="auth\.decided", if\([^,]+, "(\w+)", "(\w+)"\)/.exec(action)!;
    assert.ok(authBranch && expected('Authentication', 'Authentication').includes(authBranch[1]!) && expected('Authentication', 'Authentication').includes(authBranch[2]!));
    const fileBranch = action.slice(action.indexOf('type=="file.operation"'));
    const fileValues = [...fileBranch.matchAll(/, "(\w+)"/g)].map((m) => m[1]!);
    assert.ok(fileValues.length >= 4);
    assert.deepEqual(fileValues.filter((v) => !expected('Endpoint', 'Filesystem').includes(v)), [], 'Filesystem actions are CIM values');
  });

  it('reads only fields that the forwarded envelope has', () => {
    const sessionId = newSessionId();
    const names = new Set<string>(['_time', 'sourcetype']);
    for (const kind of ['postgres', 'ssh'] as const) {
      EVENT_TYPES.forEach((type, i) => {
        const r = { ...syntheticRecord(sessionId, i + 1, type, SAMPLE_DATA[type]), target: { name: 'web', kind } };
        for (const n of splunkFieldNames(forwardedEnvelope(r, 65536).event)) names.add(n);
      });
    }
    // Optional fields of the catalogue that the samples leave out.
    for (const n of ['data.via', 'data.code', 'data.reason', 'data.name', 'data.path', 'data.bytes', 'identity.subject']) names.add(n);
    const props = readConf('props.conf').get('trailgate:audit')!;
    const read = new Set<string>();
    for (const [key, value] of props) {
      if (key.startsWith('EVAL-')) for (const m of value.matchAll(/'([^']+)'/g)) read.add(m[1]!);
      if (key.startsWith('FIELDALIAS-')) for (const m of value.matchAll(/("[^"]+"|\S+)\s+AS\s+\S+/g)) read.add(m[1]!.replace(/"/g, ''));
    }
    const searches = [...readConf('eventtypes.conf').values()].map((s) => s.get('search')!).concat([...readConf('savedsearches.conf').values()].map((s) => s.get('search')!));
    for (const s of searches) for (const m of s.matchAll(/"([A-Za-z][\w.{}]*)"=/g)) read.add(m[1]!);
    for (const s of searches) for (const m of s.matchAll(/(?:^|[\s(])([a-z][A-Za-z.]*)="/g)) read.add(m[1]!);
    read.delete('sourcetype');
    // Fields a search computes itself (stats ... AS kinds) are not read from events.
    for (const s of searches) for (const m of s.matchAll(/\bAS\s+(\w+)/g)) read.delete(m[1]!);
    assert.deepEqual([...read].filter((f) => !names.has(f)).sort(), [], 'fields the add-on reads exist in the forwarded envelope');
    const rules = [...readConf('savedsearches.conf').keys()];
    assert.equal(rules.length, 5);
    const kibana = readFileSync(resolve(addon, '../../kibana/detection-rules.ndjson'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name);
    assert.deepEqual(rules.sort(), kibana.sort(), 'the same five rules as the Kibana content');
    assert.ok(readdirSync(join(addon, 'default/data/ui/views')).some((f) => f.endsWith('.xml')), 'a dashboard');
  });
});

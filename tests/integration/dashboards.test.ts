/**
 * What analysts import (dashboards/kibana, dashboards/opensearch) is parsed as Kibana and
 * OpenSearch read it, and every field it refers to must exist in the mapping that the real
 * OpenSearch node built from our templates. The monitors' searches run against that node.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SEARCH_RESOURCES } from '../../connectors/search/config.js';
import type { SearchService } from '../../connectors/search/service.js';
import { SearchSink } from '../../connectors/search/sink.js';
import { searchService } from '../../services/indexer/search-connection.js';
import { fieldsOfMapping } from '../support/mapping-fields.js';
import { monitorFields, ruleFields, savedObjectFields } from '../support/referenced-fields.js';
import { openSearchTarget, testNamespace } from '../support/search-env.js';
import { syntheticRecord, syntheticSession } from '../support/synthetic-records.js';

const dashboards = resolve(import.meta.dirname, '../../dashboards');

interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown> & { title?: string; panelsJSON?: string; kibanaSavedObjectMeta?: { searchSourceJSON?: string } };
  references: { name: string; type: string; id: string }[];
  coreMigrationVersion?: string;
  typeMigrationVersion?: string;
  migrationVersion?: Record<string, string>;
}

function ndjson<T>(file: string): T[] {
  assert.match(file, /\.ndjson$/, 'Kibana imports only files named *.ndjson');
  return readFileSync(join(dashboards, file), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

const kibanaObjects = ndjson<SavedObject>('kibana/saved-objects.ndjson');
const openSearchObjects = ndjson<SavedObject>('opensearch/saved-objects.ndjson');
const rules = ndjson<Record<string, unknown> & { type: string; rule_id: string }>('kibana/detection-rules.ndjson');
const monitors = JSON.parse(readFileSync(join(dashboards, 'opensearch/alerting-monitors.json'), 'utf8')) as {
  name: string;
  monitor_type: string;
  inputs: { search: { indices: string[]; query: Record<string, unknown> } }[];
  triggers: Record<string, { name: string; condition: unknown }>[];
}[];

function checkSavedObjects(objects: SavedObject[], flavour: 'kibana' | 'opensearch'): void {
  const byKey = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));
  const dataView = objects.find((o) => o.type === 'index-pattern')!;
  assert.equal(dataView.attributes.title, SEARCH_RESOURCES.indexPattern);
  assert.equal(dataView.attributes.timeFieldName, '@timestamp');
  const searches = objects.filter((o) => o.type === 'search').map((o) => o.attributes.title);
  assert.deepEqual(searches, ['Trailgate: sessions', 'Trailgate: commands', 'Trailgate: denials', 'Trailgate: approvals']);
  assert.equal(objects.filter((o) => o.type === 'dashboard').length, 1);
  for (const o of objects) {
    if (flavour === 'kibana') {
      assert.ok(o.coreMigrationVersion && o.typeMigrationVersion, `${o.id}: migration versions, or Kibana re-runs every migration`);
    } else {
      assert.ok(o.migrationVersion?.[o.type], `${o.id}: migrationVersion`);
    }
    for (const ref of o.references) assert.ok(byKey.has(`${ref.type}:${ref.id}`), `${o.id} refers to ${ref.type}:${ref.id}, which the file holds`);
    const source = o.attributes.kibanaSavedObjectMeta?.searchSourceJSON;
    if (source) {
      const parsed = JSON.parse(source) as { indexRefName?: string };
      if (parsed.indexRefName) assert.ok(o.references.some((r) => r.name === parsed.indexRefName && r.type === 'index-pattern'), `${o.id}: its data view reference`);
    }
    if (o.type === 'dashboard') {
      const panels = JSON.parse(o.attributes.panelsJSON!) as { panelRefName: string }[];
      assert.equal(panels.length, 4);
      for (const p of panels) {
        const ref = o.references.find((r) => r.name === p.panelRefName || r.name.endsWith(`:${p.panelRefName}`));
        assert.ok(ref && byKey.has(`search:${ref.id}`), `panel ${p.panelRefName} shows a saved search of the file`);
      }
    }
  }
}

describe('analyst content', () => {
  let service: SearchService;
  let mapped: Set<string>;
  let unendedSession: string;
  let sealedSession: string;
  const newcomer = `acme/newcomer-${Date.now()}`;
  const stolenRun = `run-${Date.now()}`;
  const veteran = `acme/veteran-${Date.now()}`;

  before(async () => {
    service = searchService(openSearchTarget().connection);
    const sink = new SearchSink(service, { namespace: testNamespace('dashboards'), replicas: 0 });
    // What each detection is about: a feature-branch DDL from a new repository, a burst of
    // denials, one token from two addresses, and a session that started 90 minutes ago and never ended.
    const feature = syntheticSession({ repository: newcomer, ref: 'refs/heads/feature-x' });
    const prober = syntheticSession({ repository: 'acme/prober' })[0]!.sessionId;
    const denials = Array.from({ length: 12 }, (_, i) => syntheticRecord(prober, 100 + i, 'command.started', { protocol: 'simple', text: 'drop table t', decision: { outcome: 'denied', needs: ['ddl'], missing: ['ddl'] } }, { repository: 'acme/prober' }));
    const stolen = ['10.20.30.1', '10.20.30.2'].map((ip, i) => syntheticRecord(`${prober}-${i}`, 2, 'auth.decided', { outcome: 'granted', method: 'oidc-token' }, { runId: stolenRun, clientAddress: ip }));
    // Ended but never sealed: the final signed checkpoint is what makes a session whole.
    const unended = syntheticSession({ start: new Date(Date.now() - 90 * 60_000) }).filter((r) => r.type !== 'checkpoint.signed');
    unendedSession = unended[0]!.sessionId;
    const sealed = syntheticSession({ start: new Date(Date.now() - 90 * 60_000) });
    sealedSession = sealed[0]!.sessionId;
    const veteranAuth = [new Date(Date.now() - 10 * 86_400_000), new Date()].map((start, i) => syntheticRecord(`${prober}-v${i}`, 2, 'auth.decided', { outcome: 'granted', method: 'oidc-token' }, { repository: veteran, start }));
    await sink.write([...feature, ...denials, ...stolen, ...unended, ...sealed, ...veteranAuth]);
    await service.refresh(sink.dataStream);
    mapped = fieldsOfMapping(await service.mapping(sink.dataStream));
  });
  after(async () => {
    await service.close();
  });

  it('Kibana saved objects: a data view, four saved searches and a dashboard that hang together', () => {
    checkSavedObjects(kibanaObjects, 'kibana');
  });

  it('OpenSearch Dashboards saved objects: the same, in its own format', () => {
    checkSavedObjects(openSearchObjects, 'opensearch');
  });

  it('detection rules carry what the Kibana rules import requires, by rule type', () => {
    assert.ok(rules.length >= 5);
    assert.equal(new Set(rules.map((r) => r.rule_id)).size, rules.length, 'rule_id is unique');
    for (const r of rules) {
      for (const k of ['rule_id', 'version', 'name', 'description', 'risk_score', 'severity', 'type']) assert.ok(r[k] !== undefined, `${r.rule_id}: ${k}`);
      assert.ok((r.risk_score as number) >= 0 && (r.risk_score as number) <= 100);
      assert.ok(['low', 'medium', 'high', 'critical'].includes(r.severity as string));
      assert.deepEqual(r.index, [SEARCH_RESOURCES.indexPattern]);
      if (r.type === 'query') assert.ok(r.query && ['kuery', 'lucene'].includes(r.language as string));
      if (r.type === 'eql') assert.ok(r.query && r.language === 'eql');
      if (r.type === 'threshold') assert.ok((r.threshold as { value: number }).value >= 1);
      if (r.type === 'new_terms') assert.ok((r.new_terms_fields as string[]).length && r.history_window_start);
    }
    assert.deepEqual(new Set(rules.map((r) => r.type)), new Set(['query', 'threshold', 'eql', 'new_terms']));
  });

  it('every field a saved search, dashboard, rule or monitor refers to exists in the real index mapping', () => {
    const referenced: [string, string[]][] = [
      ...kibanaObjects.map((o): [string, string[]] => [`kibana ${o.type} ${o.id}`, savedObjectFields(o as never)]),
      ...openSearchObjects.map((o): [string, string[]] => [`opensearch ${o.type} ${o.id}`, savedObjectFields(o as never)]),
      ...rules.map((r): [string, string[]] => [`rule ${r.name as string}`, ruleFields(r as never)]),
      ...monitors.map((m): [string, string[]] => [`monitor ${m.name}`, monitorFields(m)]),
    ];
    let count = 0;
    for (const [what, fields] of referenced) {
      for (const f of fields) {
        count++;
        assert.ok(mapped.has(f), `${what} refers to ${f}, which the index mapping does not have`);
      }
    }
    assert.ok(count > 60, `fields were found to check (${count})`);
  });

  it('runs each monitor on the real node: its search, and its trigger script as a bucket selector', async () => {
    const fired = new Map<string, string[]>();
    for (const m of monitors) {
      assert.deepEqual(m.inputs[0]!.search.indices, [SEARCH_RESOURCES.indexPattern]);
      assert.equal(m.triggers.length, 1);
      const query = JSON.parse(JSON.stringify(m.inputs[0]!.search.query).replaceAll('{{period_end}}', String(Date.now() + 60_000))) as Record<string, unknown>;
      if (m.monitor_type === 'query_level_monitor') {
        const result = await service.search(SEARCH_RESOURCES.indexPattern, query);
        fired.set(m.name, result.hits.map((h) => String((h._source as { vcs?: { repository?: { name?: string } } }).vcs?.repository?.name)));
        continue;
      }
      // Alerting runs a bucket-level trigger as a bucket_selector over the composite aggregation.
      const trigger = m.triggers[0]!.bucket_level_trigger as { condition: { buckets_path: Record<string, string>; parent_bucket_path: string; script: { source: string } } };
      const aggs = query.aggregations as Record<string, { aggs?: Record<string, unknown> }>;
      const parent = aggs[trigger.condition.parent_bucket_path]!;
      parent.aggs = { ...parent.aggs, trigger: { bucket_selector: { buckets_path: trigger.condition.buckets_path, script: trigger.condition.script } } };
      const result = await service.search(SEARCH_RESOURCES.indexPattern, query);
      const buckets = (result.aggregations![trigger.condition.parent_bucket_path] as { buckets: { key: Record<string, string> }[] }).buckets;
      fired.set(m.name, buckets.map((b) => Object.values(b.key)[0]!));
    }
    assert.ok(fired.get('Trailgate: DDL from a branch other than the default')!.includes(newcomer));
    assert.ok(fired.get('Trailgate: burst of denials from one repository')!.includes('acme/prober'));
    assert.ok(fired.get('Trailgate: one run\'s token used from two client addresses')!.includes(`jti-${stolenRun}`));
    assert.ok(fired.get('Trailgate: session without a signed end')!.includes(unendedSession));
    assert.ok(fired.get('Trailgate: repository never seen before')!.includes(newcomer));
    // And not for what is ordinary: a repository first seen ten days ago, a token used from one address.
    assert.ok(!fired.get('Trailgate: repository never seen before')!.includes(veteran));
    assert.ok(!fired.get('Trailgate: session without a signed end')!.includes(sealedSession), 'a sealed session is whole');
    assert.ok(!fired.get('Trailgate: one run\'s token used from two client addresses')!.includes('jti-4711'));
  });

  it('ships nothing else unchecked', () => {
    assert.deepEqual(readdirSync(join(dashboards, 'kibana')).sort(), ['detection-rules.ndjson', 'saved-objects.ndjson']);
    assert.deepEqual(readdirSync(join(dashboards, 'opensearch')).sort(), ['alerting-monitors.json', 'saved-objects.ndjson']);
  });
});

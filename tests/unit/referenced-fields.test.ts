/** The field extraction that the dashboards test relies on: it must find every field, and nothing else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dslFields, eqlFields, kqlFields } from '../support/referenced-fields.js';

describe('fields referenced by analyst content', () => {
  it('reads KQL, ignoring what sits inside quoted values', () => {
    assert.deepEqual(kqlFields('event.action:"a: b" and not vcs.ref.head.name:("refs/heads/main" or x) and (source.bytes >= 10 or trailgate.x:*)').sort(), ['event.action', 'source.bytes', 'trailgate.x', 'vcs.ref.head.name']);
  });

  it('reads EQL sequences, their join keys and comparisons', () => {
    assert.deepEqual(eqlFields('sequence by trailgate.session.id, host.name with maxspan=1h [any where event.action == "x == y"] ![any where event.outcome != "a"]').sort(), ['event.action', 'event.outcome', 'host.name', 'trailgate.session.id']);
  });

  it('reads query DSL and aggregations, not their options', () => {
    const q = {
      query: { bool: { filter: [{ term: { 'a.b': 'x' } }, { range: { '@timestamp': { gte: 'now-1h' } } }, { wildcard: { 'c.d': { value: '*x*', case_insensitive: true } } }, { exists: { field: 'e' } }] } },
      sort: [{ 'f.g': { order: 'desc' } }],
      aggs: { t: { terms: { field: 'h' }, aggs: { m: { min: { field: 'i' } }, only: { filter: { term: { j: 1 } } } } } },
    };
    assert.deepEqual([...dslFields(q)].sort(), ['@timestamp', 'a.b', 'c.d', 'e', 'f.g', 'h', 'i', 'j']);
  });
});

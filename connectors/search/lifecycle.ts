import { SEARCH_RESOURCES, type SearchSinkOptions } from './config.js';

type Lifecycle = SearchSinkOptions['lifecycle'];

/** Elasticsearch ILM: roll the hot backing index over, delete old ones. */
export function ilmPolicy(l: Lifecycle): Record<string, unknown> {
  return {
    _meta: { managed_by: 'trailgate' },
    phases: {
      hot: { actions: { rollover: { max_age: l.rolloverMaxAge, max_primary_shard_size: l.rolloverMaxPrimaryShardSize } } },
      delete: { min_age: l.deleteAfter, actions: { delete: {} } },
    },
  };
}

/**
 * OpenSearch ISM: the same two steps as states; `ism_template` attaches the policy to each new
 * backing index of our data streams (`.ds-logs-trailgate.audit-*`), so no index setting names it.
 */
export function ismPolicy(l: Lifecycle): Record<string, unknown> {
  return {
    policy: {
      description: 'Trailgate audit events: roll over when hot, delete when old',
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [{ rollover: { min_index_age: l.rolloverMaxAge, min_primary_shard_size: l.rolloverMaxPrimaryShardSize } }],
          transitions: [{ state_name: 'delete', conditions: { min_index_age: l.deleteAfter } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [`.ds-${SEARCH_RESOURCES.indexPattern}`], priority: 100 }],
    },
  };
}

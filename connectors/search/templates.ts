import { AUDIT_DATASET, SEARCH_RESOURCES, type SearchSinkOptions } from './config.js';

export type Product = 'elasticsearch' | 'opensearch';

type Mapping = Record<string, unknown>;

const keyword: Mapping = { type: 'keyword', ignore_above: 1024 };
const long: Mapping = { type: 'long' };
const integer: Mapping = { type: 'integer' };
const bool: Mapping = { type: 'boolean' };
const date: Mapping = { type: 'date' };
const ip: Mapping = { type: 'ip' };
/** Free text that is also found by its exact value (ECS's multi-field convention). */
const textWithKeyword: Mapping = { type: 'text', fields: { keyword } };
/** Names that analysts both match exactly and search in words. */
const nameField: Mapping = { type: 'keyword', ignore_above: 1024, fields: { text: { type: 'text' } } };

function object(properties: Record<string, Mapping>): Mapping {
  return { properties };
}

/**
 * Every field a document can carry, mapped explicitly: the root is `dynamic: false`, so a field
 * that is not here stays in _source but is never searchable, and never makes a document fail.
 */
export const AUDIT_MAPPINGS: Mapping = {
  dynamic: false,
  date_detection: false,
  properties: {
    '@timestamp': date,
    ecs: object({ version: keyword }),
    // OpenSearch's constant_keyword needs its value up front; the namespace differs per data stream.
    data_stream: object({ type: { type: 'constant_keyword', value: 'logs' }, dataset: { type: 'constant_keyword', value: AUDIT_DATASET }, namespace: keyword }),
    event: object({
      kind: keyword,
      module: keyword,
      dataset: keyword,
      provider: keyword,
      id: keyword,
      sequence: long,
      action: keyword,
      category: keyword,
      type: keyword,
      outcome: keyword,
      reason: keyword,
      duration: long,
      ingested: date,
    }),
    observer: object({ name: keyword, type: keyword, vendor: keyword, product: keyword }),
    network: object({ protocol: keyword }),
    client: object({ address: keyword, ip, port: long }),
    source: object({ address: keyword, ip, port: long, bytes: long }),
    destination: object({ bytes: long }),
    user: object({ name: nameField }),
    related: object({ ip, user: keyword }),
    error: object({ code: keyword, message: { type: 'match_only_text' } }),
    // OpenTelemetry semantic conventions (cicd.*, vcs.*): ECS has no CI/CD or VCS field set.
    cicd: object({
      pipeline: object({ name: keyword, run: object({ id: keyword }), task: object({ run: object({ id: keyword }) }) }),
    }),
    vcs: object({
      repository: object({ name: keyword }),
      owner: object({ name: keyword }),
      ref: object({ head: object({ name: keyword, revision: keyword, type: keyword }) }),
    }),
    trailgate: object({
      record: object({ id: keyword, seq: long, schema_version: integer, type: keyword, stream: keyword, prev: keyword, hash: keyword }),
      session: object({
        id: keyword,
        protocol: keyword,
        tls: bool,
        requested: object({ database: keyword, user: keyword, application_name: keyword }),
        end_reason: keyword,
        detail: textWithKeyword,
        bytes_from_client: long,
        bytes_to_client: long,
        commands: long,
        aborted_after_seq: long,
      }),
      checkpoint: object({ covers_seq: long, covers_hash: keyword, kid: keyword, final: bool }),
      spool: object({ level: keyword, previous: keyword, free_bytes: long, spool_bytes: long }),
      target: object({
        name: keyword,
        kind: keyword,
        host: keyword,
        port: long,
        database: keyword,
        user: keyword,
        tls: bool,
        backend_pid: long,
        application_name: keyword,
        server_version: keyword,
      }),
      identity: object({
        issuer: keyword,
        issuer_name: keyword,
        profile: keyword,
        subject: keyword,
        token_id: keyword,
        expires_at: date,
        // Every claim of the token, kept for reading, not indexed: claim names are open-ended.
        claims: { type: 'object', enabled: false },
      }),
      ci: object({
        repository_id: keyword,
        workflow_ref: keyword,
        job_workflow_ref: keyword,
        run_attempt: keyword,
        run_number: keyword,
        actor: keyword,
        environment: keyword,
        event_name: keyword,
        runner_environment: keyword,
        ref_protected: bool,
        pipeline_source: keyword,
      }),
      auth: object({ outcome: keyword, method: keyword, code: keyword }),
      policy: object({ outcome: keyword, target: keyword, rights: keyword, rules: keyword, not_matched: object({ rule: keyword, reason: textWithKeyword }) }),
      decision: object({ outcome: keyword, needs: keyword, missing: keyword, rules: keyword, parse_error: textWithKeyword }),
      command: object({
        seq: long,
        protocol: keyword,
        // SQL of any length stays searchable: wildcard for substrings of the whole text, text for words.
        text: { type: 'wildcard', fields: { text: { type: 'text' } } },
        text_length: long,
        text_truncated: bool,
        statement_name: keyword,
        portal: keyword,
        parameters: keyword,
        parameter_types: long,
        function_oid: long,
        outcome: keyword,
        duration_ms: { type: 'double' },
        tags: keyword,
        rows: long,
        copy_bytes: long,
        channel: long,
        pty: bool,
        exit_status: long,
        exit_signal: keyword,
        approval_id: keyword,
      }),
      terminal: object({ channel: long, term: keyword, cols: long, rows: long }),
      file: object({ protocol: keyword, channel: long, op: keyword, path: keyword, to_path: keyword, name: keyword, flags: keyword, bytes: long, count: long, request: keyword, outcome: keyword, status: keyword, error: textWithKeyword, needs: keyword }),
      request: object({ request: keyword, channel: long, detail: keyword, reason: textWithKeyword, needs: keyword }),
      forward: object({ direction: keyword, channel: long, host: keyword, port: long, origin: keyword, rules: keyword, bytes_from_client: long, bytes_to_client: long }),
      signal: object({ channel: long, name: keyword }),
      token_reuse: object({ token_id: keyword, policy: keyword, outcome: keyword, code: keyword, same_client: bool, first_session: keyword, first_client: keyword, first_instance: keyword, first_at: date }),
      environment: object({ channel: long, name: keyword, value: keyword, masked: bool, outcome: keyword, reason: textWithKeyword, rules: keyword }),
      approval: object({
        id: keyword, rule: keyword, target: keyword, kind: keyword, text: textWithKeyword, text_sha256: keyword, parameters_sha256: keyword, quorum: long, expires_at: date,
        run: object({ repository: keyword, workflow: keyword, ref: keyword, run_id: keyword, run_attempt: keyword, actor: keyword, environment: keyword }),
        reviewer: keyword, verdict: keyword, reason: textWithKeyword, counted: bool, refused_reason: keyword, self_approval: bool, state: keyword, deciders: keyword,
      }),
      cancel: object({ forwarded: bool }),
      kube: object({ method: keyword, verb: keyword, path: keyword, api_group: keyword, api_version: keyword, resource: keyword, subresource: keyword, namespace: keyword, name: keyword, status: long, outcome: keyword, bytes_in: long, bytes_out: long, duration_ms: { type: 'double' }, code: keyword, upgrade: keyword, subprotocol: keyword, user_agent: keyword }),
      notification: object({ channel: keyword, payload: textWithKeyword, process_id: long }),
    }),
  },
};

export interface InstallBodies {
  components: { name: string; body: Record<string, unknown> }[];
  indexTemplate: { name: string; body: Record<string, unknown> };
}

/**
 * The component and index templates for one product. The index template's priority (500) beats
 * Elasticsearch's built-in `logs` template (100) for our pattern, and carries `data_stream: {}`.
 */
export function templateBodies(product: Product, o: Pick<SearchSinkOptions, 'replicas'>, lifecycleInstalled = true): InstallBodies {
  const settings: Record<string, unknown> = { 'index.number_of_shards': 1 };
  if (o.replicas !== undefined) settings['index.number_of_replicas'] = o.replicas;
  // ILM is named in the index settings (only once the policy exists); ISM attaches itself through the policy's ism_template.
  if (product === 'elasticsearch' && lifecycleInstalled) settings['index.lifecycle.name'] = SEARCH_RESOURCES.lifecyclePolicy;
  return {
    components: [
      { name: SEARCH_RESOURCES.mappingsComponent, body: { template: { mappings: AUDIT_MAPPINGS }, _meta: { managed_by: 'trailgate' } } },
      { name: SEARCH_RESOURCES.settingsComponent, body: { template: { settings }, _meta: { managed_by: 'trailgate' } } },
    ],
    indexTemplate: {
      name: SEARCH_RESOURCES.indexTemplate,
      body: {
        index_patterns: [SEARCH_RESOURCES.indexPattern],
        data_stream: {},
        priority: 500,
        composed_of: [SEARCH_RESOURCES.mappingsComponent, SEARCH_RESOURCES.settingsComponent],
        _meta: { managed_by: 'trailgate', description: 'Trailgate audit events (ECS)' },
      },
    },
  };
}

/**
 * The Helm chart, with helm itself (built from helm.sh/helm/v3 by tests/services/go-tools.sh): `helm
 * lint` and `helm template` pass for the default values and for the Kafka-scaled values file, and the
 * rendered manifests hold what operators rely on: the kinds, non-root pods with a read-only root file
 * system, probes on /healthz and /readyz, a ConfigMap that trailgate's own loader accepts. A real API
 * server's dry run (`kubectl apply --dry-run=server`) comes with the Kubernetes work.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { validateConfig } from '../../services/config/load.js';
import { requiredEnv } from '../support/test-env.js';

const exec = promisify(execFile);
const chart = resolve(import.meta.dirname, '../../charts/trailgate');
const kafkaValues = join(chart, 'ci/kafka-values.yaml');
// helm built from source reports Kubernetes v1.20 as its default; render for a current cluster.
const KUBE = ['--kube-version', '1.31.0'];

type Manifest = { kind: string; metadata: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> } & Record<string, unknown>;
interface Container {
  name: string;
  args?: string[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  startupProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  ports?: { name: string; containerPort: number }[];
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
}

async function helm(...args: string[]): Promise<string> {
  const { stdout } = await exec(requiredEnv('HELM_BIN'), args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function render(...values: string[]): Promise<Manifest[]> {
  const out = await helm('template', 'tg', chart, ...KUBE, ...values.flatMap((v) => ['-f', v]));
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
}

function podSpec(m: Manifest): PodSpec {
  return (m.spec as { template: { spec: PodSpec } }).template.spec;
}

function assertHardened(m: Manifest): void {
  const pod = podSpec(m);
  assert.equal(pod.securityContext.runAsNonRoot, true, `${m.metadata.name} runs as non-root`);
  assert.equal(pod.securityContext.runAsUser, 10001);
  assert.equal(pod.automountServiceAccountToken, false);
  for (const c of pod.containers) {
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root file system`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.ok(c.resources?.requests?.memory && c.resources.limits?.memory, `${c.name}: resources`);
    assert.ok(c.readinessProbe?.httpGet && c.livenessProbe?.httpGet && c.startupProbe?.httpGet, `${c.name}: probes`);
  }
}

describe('Helm chart', () => {
  it('passes helm lint with the default values and with the Kafka-scaled values', async () => {
    assert.match(await helm('lint', chart, ...KUBE), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.match(await helm('lint', chart, ...KUBE, '-f', kafkaValues), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders one gateway StatefulSet on the embedded log by default, hardened, with probes on /healthz and /readyz', async () => {
    const manifests = await render();
    const kinds = manifests.map((m) => m.kind).sort();
    assert.deepEqual(kinds, ['ConfigMap', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount', 'StatefulSet']);
    const sts = manifests.find((m) => m.kind === 'StatefulSet')!;
    assertHardened(sts);
    const gw = podSpec(sts).containers[0]!;
    assert.deepEqual(gw.args, ['--config', '/etc/trailgate/trailgate.yaml', 'gateway']);
    assert.deepEqual([gw.readinessProbe!.httpGet!.path, gw.livenessProbe!.httpGet!.path], ['/readyz', '/healthz']);
    assert.equal((sts.spec as { volumeClaimTemplates: { metadata: { name: string } }[] }).volumeClaimTemplates[0]!.metadata.name, 'data', 'each pod its own volume');
    assert.ok(podSpec(sts).terminationGracePeriodSeconds! > 40, 'the grace period covers the drain');
    const raw = parseAllDocuments(manifests.find((m) => m.kind === 'ConfigMap')!.data!['trailgate.yaml']!)[0]!.toJS() as Record<string, unknown>;
    assert.ok(!('instance' in raw), 'no fixed instance: each pod is named by its pod (host) name');
    const config = validateConfig(raw);
    assert.equal(config.dataDir, '/var/lib/trailgate');
    assert.deepEqual(config.metrics, { host: '0.0.0.0', port: 9464 });
    assert.equal(config.log.kind, 'embedded');
  });

  it('renders the Kafka-scaled values: three gateways, consumers as Deployments, a ServiceMonitor, and a config trailgate accepts', async () => {
    const manifests = await render(kafkaValues);
    const count = (kind: string) => manifests.filter((m) => m.kind === kind).length;
    assert.deepEqual([count('StatefulSet'), count('Deployment'), count('ServiceMonitor'), count('PodDisruptionBudget'), count('NetworkPolicy')], [1, 3, 1, 1, 2]);
    const sts = manifests.find((m) => m.kind === 'StatefulSet')!;
    assert.equal((sts.spec as { replicas: number }).replicas, 3);
    for (const m of manifests.filter((x) => x.kind === 'StatefulSet' || x.kind === 'Deployment')) assertHardened(m);
    const roles = manifests.filter((m) => m.kind === 'Deployment').map((m) => podSpec(m).containers[0]!.args!.at(-1)).sort();
    assert.deepEqual(roles, ['forwarder', 'indexer', 'replay']);
    const gw = podSpec(sts).containers[0]!;
    assert.deepEqual(gw.ports!.map((p) => p.name), ['postgres', 'ssh', 'metrics']);
    const config = validateConfig(parseAllDocuments(manifests.find((m) => m.kind === 'ConfigMap')!.data!['trailgate.yaml']!)[0]!.toJS());
    assert.equal(config.log.kind, 'kafka');
    assert.equal(config.log.kafka!.replicationFactor, 3);
    assert.equal(config.ssh?.listen.host, '0.0.0.0');
    assert.equal(config.replay?.listen.port, 6480);
    // Secrets are referenced (mounted from existing Secrets), never created by the chart.
    assert.equal(count('Secret'), 0);
    const volumes = (podSpec(sts) as unknown as { volumes: { secret?: { secretName: string } }[] }).volumes;
    assert.deepEqual(volumes.filter((v) => v.secret).map((v) => v.secret!.secretName), ['trailgate-targets', 'trailgate-replay']);
  });

  it('refuses values that cannot work, naming the fix', async () => {
    await assert.rejects(helm('template', 'tg', chart, ...KUBE, '--set', 'consumers.indexer.enabled=true'), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /consumers need config.log.kind: kafka/);
      return true;
    });
    await assert.rejects(helm('template', 'tg', chart, ...KUBE, '--set', 'config.instance=gw-1'), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /config.instance must stay unset/);
      return true;
    });
  });
});

import { Command, Option } from 'commander';
import type { CastCommandOptions } from './cast-command.js';
import type { SearchOptions } from './search-command.js';
import type { ExplainOptions } from './policy-command.js';
import type { RoleOptions } from './role-commands.js';
import type { VerifyCommandOptions } from './verify-command.js';
import type { ConsumerRole } from '../roles/role-sinks.js';
import { packageVersion } from './version.js';

// Each command loads its own modules when it runs (`await import` in its action), so that a quick
// read such as `trailgate sessions` does not pay for the gateway, the consumers and the web UI.
const program = new Command('trailgate')
  .description('Audited access from CI/CD jobs to Postgres and SSH: the job\'s OIDC token in, a signed record out.')
  .version(packageVersion(), '-V, --version', 'print the version of trailgate')
  .option('-c, --config <file>', 'configuration file (default: ./trailgate.yaml when it exists)')
  .showHelpAfterError();

program
  .command('up')
  .description('run the gateway on the embedded event log')
  .option('--dev', 'development mode: built-in token issuer and an in-process demo database (never in production)')
  .action(async (opts: { dev?: boolean }) => (await import('./up-command.js')).runUp(program.opts<{ config?: string }>().config, opts.dev ?? false));

program
  .command('gateway')
  .description('run the gateway alone, recording to the configured log (log.kind: kafka for several gateways)')
  .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics (or set metrics.port)')
  .action(async (opts: RoleOptions) => (await import('./role-commands.js')).runGatewayRole(program.opts<{ config?: string }>().config, opts));

// `trailgate replay` is the replay UI's own command; its consumer shell is reached through the role registry.
const roleHelp: Record<Exclude<ConsumerRole, 'replay'>, string> = {
  indexer: 'index the log into search (its sink is configured separately)',
  forwarder: 'forward the log to the configured sink (consumers.forwarder)',
};
for (const role of Object.keys(roleHelp) as (keyof typeof roleHelp)[]) {
  program
    .command(role)
    .description(`consumer process: ${roleHelp[role]}`)
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics (or set metrics.port)')
    .action(async (opts: RoleOptions) => (await import('./role-commands.js')).runConsumerRole(role, program.opts<{ config?: string }>().config, opts));
}

program
  .command('consumers')
  .description('position and lag of every consumer on the configured log')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { json?: boolean }) => (await import('./role-commands.js')).runConsumersStatus(program.opts<{ config?: string }>().config, opts));

program
  .command('kube-credential')
  .description('kubectl exec credential plugin: prints an ExecCredential with the CI token for the gateway')
  .option('--token-file <path>', 'read the token from this file')
  .option('--token-env <name>', 'read the token from this environment variable', 'TRAILGATE_TOKEN')
  .option('--audience <aud>', "audience asked of GitHub Actions' token endpoint", 'trailgate')
  .action(async (opts) => (await import('./kube-credential-command.js')).runKubeCredential(opts));

program
  .command('token')
  .description('mint a GitHub Actions-shaped token from the development issuer (needs `trailgate up --dev` once)')
  .option('--repository <owner/name>', 'repository claim', 'acme/payments')
  .option('--ref <ref>', 'ref claim', 'refs/heads/main')
  .option('--sha <sha>', 'commit sha claim')
  .option('--workflow <name>', 'workflow claim', 'deploy')
  .option('--actor <login>', 'actor claim', 'octocat')
  .option('--environment <name>', 'environment claim', 'production')
  .option('--event <name>', 'event_name claim', 'push')
  .option('--audience <aud>', 'audience', 'trailgate')
  .option('--ttl <seconds>', 'lifetime in seconds', '600')
  .addOption(new Option('--claim <key=value...>', 'any further claim; repeatable'))
  .action(async (opts) => (await import('./token-command.js')).runToken(program.opts<{ config?: string }>().config, opts));

program
  .command('sessions')
  .description('list recorded sessions, newest first')
  .option('--json', 'one JSON object per line')
  .option('--limit <n>', 'how many', '50')
  .action(async (opts: { json?: boolean; limit: string }) => (await import('./sessions-command.js')).runSessions(program.opts<{ config?: string }>().config, opts));

program
  .command('events')
  .description('print the records of one session (an id or a unique prefix of one)')
  .argument('<session>')
  .option('--json', 'NDJSON records, byte chunks base64-encoded')
  .option('--bytes', 'include raw byte chunks')
  .action(async (session: string, opts: { json?: boolean; bytes?: boolean }) => (await import('./events-command.js')).runEvents(program.opts<{ config?: string }>().config, session, opts));

program
  .command('cast')
  .description('write the terminal of an SSH session as an asciicast (v2 by default) to stdout')
  .argument('<session>')
  .option('--v3', 'asciicast v3 (intervals between events) instead of v2')
  .option('--channel <n>', 'SSH channel of the terminal (default: the first terminal opened)')
  .option('--input', 'also write recorded keyboard input as "i" events')
  .option('-o, --output <file>', 'write to a file instead of stdout')
  .action(async (session: string, opts: CastCommandOptions) => (await import('./cast-command.js')).runCast(program.opts<{ config?: string }>().config, session, opts));

program
  .command('transcript')
  .description('write the statements of a Postgres session: parameters, timing, decision, outcome, rows, error')
  .argument('<session>')
  .option('--format <format>', 'text or json', 'text')
  .action(async (session: string, opts: { format: string }) => (await import('./transcript-command.js')).runTranscript(program.opts<{ config?: string }>().config, session, opts));

program
  .command('replay')
  .description('serve the replay web UI and API (the `replay` section); on Kafka also keep this machine\'s replay store, which the read commands read')
  .option('--dev', 'add a generated admin token (never in production)')
  .action(async (opts: { dev?: boolean }) => (await import('./replay-command.js')).runReplay(program.opts<{ config?: string }>().config, opts));

program
  .command('index')
  .description('index the embedded log into the search cluster of `search:` (one pass; repeating it stores nothing twice)')
  .action(async () => (await import('./index-command.js')).runIndex(program.opts<{ config?: string }>().config));

program
  .command('search')
  .description('search the audit trail in the search cluster: words or a fragment of the command text, narrowed by the options')
  .argument('[text...]', 'words or a fragment of SQL; only commands match when given')
  .option('--repo <owner/name>', 'repository')
  .option('--run <id[/attempt]>', 'CI run id, optionally with its attempt')
  .option('--actor <login>', 'who triggered the run')
  .option('--target <name>', 'target name')
  .option('--session <id>', 'one session')
  .option('--since <time>', 'ISO 8601 time or an age: 15m, 2h, 7d')
  .option('--until <time>', 'ISO 8601 time or an age')
  .option('--commands', 'only commands')
  .option('--limit <n>', 'how many, newest first', '50')
  .option('--json', 'one JSON object per line')
  .action(async (text: string[], opts: SearchOptions) => (await import('./search-command.js')).runSearch(program.opts<{ config?: string }>().config, text, opts));

program
  .command('policy')
  .description('inspect the access policy')
  .command('explain')
  .description('show which rules grant a job what on a target, and why the others do not apply')
  .requiredOption('--target <name>', 'target name, as the job passes it as database name or SSH login name')
  .option('--token <jwt>', 'the job\'s token (verified if possible, explained either way)')
  .option('--claims <file>', 'a JSON file of claims instead of a token')
  .option('--issuer <name>', 'issuer name to apply (default: the one whose iss matches)')
  .option('--dev', 'include the development rule of `trailgate up --dev`')
  .action(async (opts: ExplainOptions) => (await import('./policy-command.js')).runPolicyExplain(program.opts<{ config?: string }>().config, opts));

program
  .command('masking')
  .description('inspect result masking')
  .command('explain')
  .description("show each output column's origin on the target and the masking rule that applies (the statement is described, never run)")
  .requiredOption('--target <name>', 'a Postgres target with a masking section')
  .option('--json', 'the explanation as JSON')
  .argument('<sql>', 'the statement')
  .action(async (sql: string, opts: { target: string; json?: boolean }) => (await import('./masking-command.js')).runMaskingExplain(program.opts<{ config?: string }>().config, sql, opts));

program
  .command('verify')
  .description('prove a recording whole: chain, signatures, signed end; --all also checks the gateway ledgers for deleted sessions')
  .argument('[session]', 'a session id or a unique prefix of one')
  .option('--all', 'every session in the log, and the ledgers')
  .option('--jwks <file>', 'the JWKS to trust (a copy of `trailgate keys jwks` kept apart from the gateway)')
  .option('--json', 'the report as JSON')
  .option('--ledger-from <file>', 'with --all: compare the ledgers with the copy in this replay store (a ledger whose tail was cut shows)')
  .option('--records <file>', 'verify records exported back out of a SIEM (NDJSON of forwarded events), deduplicated by record id; a value the SIEM cut to its field limit is checked by its links and signatures only (exit 0, listed as contentUnchecked)')
  .action(async (session: string | undefined, opts: VerifyCommandOptions) => (await import('./verify-command.js')).runVerify(program.opts<{ config?: string }>().config, session, opts));

const keys = program.command('keys').description('the keys that sign recordings');
keys
  .command('jwks')
  .description('print the public keys (JWKS) that verify checks signatures with')
  .action(async () => (await import('./keys-command.js')).runKeysJwks(program.opts<{ config?: string }>().config));
keys
  .command('rotate')
  .description('generate a new signing key; older public keys stay published')
  .action(async () => (await import('./keys-command.js')).runKeysRotate(program.opts<{ config?: string }>().config));

const approvals = program.command('approvals').description('statements and commands held for people to approve (through the replay API: --server or TRAILGATE_REPLAY_URL, token in TRAILGATE_REPLAY_TOKEN)');
const approvalOptions = (c: Command) => c.option('--server <url>', 'the replay server').option('--token-file <file>', 'the reviewer token, instead of TRAILGATE_REPLAY_TOKEN').option('--json', 'JSON output');
approvalOptions(approvals.command('list').description('the queue, newest first').option('--state <state>', 'pending (default), approved, rejected, expired, withdrawn, abandoned or all')).action(async (opts: object) =>
  (await import('./approvals-command.js')).runApprovalsList(program.opts<{ config?: string }>().config, opts),
);
approvalOptions(approvals.command('show').description('one approval: statement, parameters, run, reviews').argument('<id>')).action(async (id: string, opts: object) =>
  (await import('./approvals-command.js')).runApprovalsShow(program.opts<{ config?: string }>().config, id, opts),
);
for (const verdict of ['approve', 'reject'] as const) {
  approvalOptions(approvals.command(verdict).description(verdict === 'approve' ? 'approve a held statement or command' : 'reject it; the client gets 42501 with the reason').argument('<id>').option('--reason <text>', 'why (required to reject)')).action(
    async (id: string, opts: object) => (await import('./approvals-command.js')).runApprovalsReview(program.opts<{ config?: string }>().config, verdict, id, opts),
  );
}

// The job's side: ask ahead (plan and apply, a window) and wait, with the CI token, through the gateway's approvals.listen.
const jobOptions = (c: Command) =>
  c
    .option('--gateway <url>', "the gateway's approvals API, https://<gateway>:6490 (or TRAILGATE_GATEWAY_URL)")
    .option('--ca-file <file>', "CA of the gateway's certificate (or TRAILGATE_GATEWAY_CA)")
    .option('--token-file <file>', 'the CI token, instead of TRAILGATE_TOKEN')
    .option('--json', 'JSON output');
jobOptions(
  approvals
    .command('request')
    .description("ask ahead, bound to this run: a file's statements (plan and apply) or a window; prints the approval id")
    .option('--target <name>', 'the target the statements will run on')
    .option('--file <sql>', 'the statements the apply session will run, unheld once approved')
    .option('--window <duration>', 'instead: the rule holds nothing of this run for this long once approved (30m, 2h)')
    .option('--rule <name>', 'the approval rule, when several hold statements on the target'),
).action(async (opts: object) => (await import('./approvals-job-command.js')).runApprovalsRequest(opts));
jobOptions(approvals.command('wait').description('wait for a decision without a database connection: exit 0 approved, 3 rejected, 4 expired').argument('<id>')).action(
  async (id: string, opts: object) => (await import('./approvals-job-command.js')).runApprovalsWait(id, opts),
);

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  console.error(`trailgate: ${err.message}`);
  process.exit(err.code === 'TG_USAGE' ? 2 : 1);
});

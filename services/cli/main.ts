import { Command, Option } from 'commander';
import { runEvents } from './events-command.js';
import { runPolicyExplain, type ExplainOptions } from './policy-command.js';
import { runSessions } from './sessions-command.js';
import { runToken } from './token-command.js';
import { runUp } from './up-command.js';

const program = new Command('trailgate')
  .description('Audited access from CI/CD jobs to Postgres and SSH: the job\'s OIDC token in, a signed record out.')
  .option('-c, --config <file>', 'configuration file (default: ./trailgate.yaml when it exists)')
  .showHelpAfterError();

program
  .command('up')
  .description('run the gateway on the embedded event log')
  .option('--dev', 'development mode: built-in token issuer and an in-process demo database (never in production)')
  .action((opts: { dev?: boolean }) => runUp(program.opts<{ config?: string }>().config, opts.dev ?? false));

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
  .action((opts) => runToken(program.opts<{ config?: string }>().config, opts));

program
  .command('sessions')
  .description('list recorded sessions, newest first')
  .option('--json', 'one JSON object per line')
  .option('--limit <n>', 'how many', '50')
  .action((opts: { json?: boolean; limit: string }) => runSessions(program.opts<{ config?: string }>().config, opts));

program
  .command('events')
  .description('print the records of one session (an id or a unique prefix of one)')
  .argument('<session>')
  .option('--json', 'NDJSON records, byte chunks base64-encoded')
  .option('--bytes', 'include raw byte chunks')
  .action((session: string, opts: { json?: boolean; bytes?: boolean }) => runEvents(program.opts<{ config?: string }>().config, session, opts));

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
  .action((opts: ExplainOptions) => runPolicyExplain(program.opts<{ config?: string }>().config, opts));

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  console.error(`trailgate: ${err.message}`);
  process.exit(err.code === 'TG_USAGE' ? 2 : 1);
});

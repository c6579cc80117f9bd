/**
 * Bundles the CLI's entry and its log-reading commands into dist/services/cli/trailgate.js (plus
 * chunks/), which bin/trailgate.js runs: `trailgate sessions` then loads a few files instead of about
 * 220 (zod, yaml, commander and our own modules one by one), which was most of its start-up.
 *
 *   node --import tsx scripts/bundle-cli.ts     (after tsc; `npm run build` runs both)
 *
 * Only pure-JavaScript packages are bundled. Every other package stays an import from node_modules,
 * and every command not listed in BUNDLED_COMMANDS stays an import of tsc's output next to the
 * bundle, so the gateway, the consumers and the replay UI run exactly as compiled.
 */
import { build, type Plugin } from 'esbuild';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const outdir = resolve(root, 'dist/services/cli');
const entry = resolve(outdir, 'main.js');

/** Commands that read the log: short runs where start-up is most of the time. */
const BUNDLED_COMMANDS = new Set(['sessions-command', 'events-command', 'cast-command', 'transcript-command', 'verify-command']);
/** Plain JavaScript, no native code, no files read next to their modules: safe to inline. */
const BUNDLED_PACKAGES = new Set(['zod', 'yaml', 'commander']);

const layout: Plugin = {
  name: 'trailgate-cli-layout',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === 'entry-point' || a.path.startsWith('node:')) return undefined;
      const command = /^\.\/([a-z-]+-commands?)\.js$/.exec(a.path)?.[1];
      if (a.importer === entry && a.kind === 'dynamic-import' && command && !BUNDLED_COMMANDS.has(command)) return { path: a.path, external: true };
      if (a.path.startsWith('.') || a.path.startsWith('/')) return undefined;
      const pkg = a.path.startsWith('@') ? a.path.split('/').slice(0, 2).join('/') : a.path.split('/')[0]!;
      return BUNDLED_PACKAGES.has(pkg) ? undefined : { path: a.path, external: true };
    });
  },
};

if (!existsSync(entry)) throw new Error(`${entry} is missing: run tsc -p tsconfig.build.json first (npm run build does both)`);
// Chunk names carry content hashes: clear the last build's, or they pile up in the package.
rmSync(resolve(outdir, 'chunks'), { recursive: true, force: true });
const result = await build({
  entryPoints: { trailgate: entry },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Smaller text compiles faster at start; names stay, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  // The CommonJS packages inlined (yaml, commander) require Node's built-ins.
  banner: { js: "import { createRequire as __trailgateRequire } from 'node:module'; const require = __trailgateRequire(import.meta.url);" },
  plugins: [layout],
  logLevel: 'warning',
  metafile: true,
});
// Anything that reads files next to its own module would look beside the bundle instead: only version.ts may.
// Resolving a package through createRequire(import.meta.url) finds the same node_modules from the bundle.
const located = Object.keys(result.metafile.inputs).filter(
  (f) => !f.includes('node_modules/') && !f.endsWith('services/cli/version.js') && readFileSync(resolve(root, f), 'utf8').replaceAll('createRequire(import.meta.url)', '').includes('import.meta'),
);
if (located.length) throw new Error(`bundled modules that use import.meta (keep their command out of BUNDLED_COMMANDS): ${located.join(', ')}`);

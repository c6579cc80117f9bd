import { readFileSync } from 'node:fs';

/** The package's version, from its package.json (two levels up from the source, four from dist/). */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'trailgate' && pkg.version) return pkg.version;
    } catch {
      // Not at this level: the other layout.
    }
  }
  return 'unknown';
}

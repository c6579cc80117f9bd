import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  type: string;
  body: Buffer;
}

const require = createRequire(import.meta.url);
// From sources (services/replay/server) and from dist/ (dist/services/replay/server) alike.
const web = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../web/' : '../../../../services/replay/web/', import.meta.url));

/** The files the pages load, read once; the player comes from its npm package, never from a CDN. */
export function loadAssets(): Map<string, Asset> {
  const player = (file: string) => readFileSync(require.resolve(`asciinema-player/dist/bundle/${file}`));
  return new Map<string, Asset>([
    ['asciinema-player.min.js', { type: 'text/javascript; charset=utf-8', body: player('asciinema-player.min.js') }],
    ['asciinema-player.css', { type: 'text/css; charset=utf-8', body: player('asciinema-player.css') }],
    ['replay.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(`${web}replay.js`) }],
    ['replay.css', { type: 'text/css; charset=utf-8', body: readFileSync(`${web}replay.css`) }],
  ]);
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReplayUser } from '../config/replay-schema.js';

/** `up --dev` only: an admin token generated once into the data directory (mode 600), never printed. */
export function devAdmin(dataDir: string): { user: ReplayUser; file: string } {
  const dir = join(dataDir, 'replay');
  const file = join(dir, 'dev-admin.token');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  return { user: { name: 'dev-admin', roles: ['admin'], token: { file } }, file };
}

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';

export interface TlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * The listener's TLS identity: the configured certificate, or one generated at first start and kept
 * in the data directory so that clients can pin it.
 */
export async function loadOrCreateTlsContext(files: TlsFiles, dataDir: string): Promise<{ context: tls.SecureContext; certFile: string }> {
  if (files.certFile || files.keyFile) {
    if (!files.certFile || !files.keyFile) throw new Error('TG_CONFIG_TLS: postgres.tls needs both certFile and keyFile');
    return { context: tls.createSecureContext({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }), certFile: files.certFile };
  }
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'gateway.crt');
  const keyFile = join(dir, 'gateway.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pems = await generate([{ name: 'commonName', value: `trailgate ${hostname()}` }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 2, value: hostname() }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
      ],
    });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    writeFileSync(certFile, pems.cert);
  }
  return { context: tls.createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile) }), certFile };
}

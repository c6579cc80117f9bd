import type { ServerResponse } from 'node:http';

/** HTTP status to the API machinery's reason, as kubectl prints it: `Error from server (Forbidden): ...`. */
const REASONS: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 502: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };

/** A metav1.Status body: the error form every Kubernetes client understands. */
export function statusBody(code: number, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code });
}

export function sendStatus(res: ServerResponse, code: number, message: string): number {
  const body = statusBody(code, message);
  if (!res.headersSent) res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
  return Buffer.byteLength(body);
}

/** The same answer on a raw socket, for an upgrade refused before it happened. */
export function statusResponseText(code: number, message: string): string {
  const body = statusBody(code, message);
  return `HTTP/1.1 ${code} ${REASONS[code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * The Kubernetes remotecommand channel protocol over WebSocket (k8s.io/apimachinery/pkg/util/remotecommand,
 * k8s.io/client-go/tools/remotecommand/websocket.go): each binary message is one channel byte and its data.
 * v4 adds a structured error channel (a metav1.Status with the exit code); v5 adds a close signal for stdin.
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** Subprotocols whose messages the gateway can read (binary framing); base64 framing is not offered upstream. */
export const EXEC_SUBPROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** The terminal size a resize message carries (`{"Width":120,"Height":40}`), or null for garbage. */
export function readResize(data: Buffer): { cols: number; rows: number } | null {
  try {
    const v = JSON.parse(data.toString('utf8')) as { Width?: unknown; Height?: unknown };
    const cols = Number(v.Width);
    const rows = Number(v.Height);
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols <= 0 || rows <= 0 || cols > 10_000 || rows > 10_000) return null;
    return { cols, rows };
  } catch {
    return null;
  }
}

/**
 * The exit status the error channel reports: 0 for a Success status, the ExitCode cause of a
 * NonZeroExitCode failure, null when the command failed otherwise (the message is the error).
 */
export function readExitStatus(data: Buffer, subprotocol: string): { exitStatus: number | null; error?: string } {
  const text = data.toString('utf8');
  if (!subprotocol.startsWith('v4.') && !subprotocol.startsWith('v5.')) return text ? { exitStatus: null, error: text.slice(0, 1000) } : { exitStatus: 0 };
  try {
    const s = JSON.parse(text) as { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
    if (s.status === 'Success') return { exitStatus: 0 };
    const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = cause ? Number(cause.message) : NaN;
    if (s.reason === 'NonZeroExitCode' && Number.isInteger(code)) return { exitStatus: code };
    return { exitStatus: null, error: String(s.message ?? text).slice(0, 1000) };
  } catch {
    return { exitStatus: null, error: text.slice(0, 1000) };
  }
}

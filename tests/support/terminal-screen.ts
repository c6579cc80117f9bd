/**
 * Final screens of a terminal emulator (@xterm/headless), to compare what a client saw with what a
 * cast replays. Works on any byte stream: one built here, or one a real ssh client received.
 */
import xterm from '@xterm/headless';

const { Terminal } = xterm;

/** What the terminal received, in order: output bytes and size changes. */
export type TerminalFeed = ({ output: Uint8Array | string } | { resize: { cols: number; rows: number } })[];

export interface Screen {
  cols: number;
  rows: number;
  cursor: { x: number; y: number };
  /** Visible lines, trailing blanks trimmed. */
  lines: string[];
}

/** Feeds a terminal and returns its final screen. Bytes are passed as bytes, so the emulator decodes UTF-8 itself. */
export async function screenOf(size: { cols: number; rows: number }, feed: TerminalFeed): Promise<Screen> {
  const term = new Terminal({ cols: size.cols, rows: size.rows, allowProposedApi: true, scrollback: 0 });
  try {
    for (const step of feed) {
      if ('resize' in step) term.resize(step.resize.cols, step.resize.rows);
      else await new Promise<void>((resolve) => term.write(step.output, resolve));
    }
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < term.rows; y++) lines.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? '');
    return { cols: term.cols, rows: term.rows, cursor: { x: buffer.cursorX, y: buffer.cursorY }, lines };
  } finally {
    term.dispose();
  }
}

/** The final screen of an asciicast (v2 or v3): its size, its "o" output and its "r" resizes. */
export async function screenOfCast(cast: string): Promise<Screen> {
  const [headerLine, ...eventLines] = cast.split('\n').filter((l) => l.trim() !== '');
  const header = JSON.parse(headerLine!) as { version: number; width?: number; height?: number; term?: { cols: number; rows: number } };
  const size = header.version === 3 ? header.term! : { cols: header.width!, rows: header.height! };
  const feed: TerminalFeed = [];
  for (const line of eventLines) {
    const [, code, data] = JSON.parse(line) as [number, string, string];
    if (code === 'o') feed.push({ output: data });
    else if (code === 'r') {
      const [cols, rows] = data.split('x').map(Number);
      feed.push({ resize: { cols: cols!, rows: rows! } });
    }
  }
  return screenOf(size, feed);
}

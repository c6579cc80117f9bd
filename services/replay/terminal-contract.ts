/**
 * The SSH gateway's terminal records as replay reads them (the gateway adds them to events/catalogue.ts).
 * Replay reads them by name, tolerates missing fields, and never assumes they exist.
 */
export interface TerminalOpenedData {
  channel: number;
  term?: string;
  cols: number;
  rows: number;
}

export interface TerminalResizedData {
  channel: number;
  cols: number;
  rows: number;
}

/** A terminal size that a hostile or broken record cannot turn into a huge allocation in a player. */
export function sane(n: unknown, fallback: number): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 10_000 ? n : fallback;
}

export function terminalOpened(data: unknown): TerminalOpenedData | null {
  const d = data as Partial<TerminalOpenedData> | null;
  if (!d || typeof d.channel !== 'number') return null;
  return { channel: d.channel, cols: sane(d.cols, 80), rows: sane(d.rows, 24), ...(typeof d.term === 'string' ? { term: d.term } : {}) };
}

export function terminalResized(data: unknown): TerminalResizedData | null {
  const d = data as Partial<TerminalResizedData> | null;
  if (!d || typeof d.channel !== 'number') return null;
  return { channel: d.channel, cols: sane(d.cols, 80), rows: sane(d.rows, 24) };
}

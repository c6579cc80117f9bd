import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeadLetter } from '../../connectors/consumer/record-sink.js';

/** Where records a sink refuses for good are kept for an operator to look at. */
export interface DeadLetterPlace {
  put(sink: string, letters: DeadLetter[]): Promise<void>;
}

/** One JSON line per dead letter, appended to a file (until the consumer framework's dead-letter place). */
export class DeadLetterFile implements DeadLetterPlace {
  constructor(readonly file: string) {}

  async put(sink: string, letters: DeadLetter[]): Promise<void> {
    if (!letters.length) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const at = new Date().toISOString();
    const lines = letters.map((l) => {
      const record = l.record.stream === 'bytes' ? { ...l.record, data: { base64: l.record.data.toString('base64') } } : l.record;
      return JSON.stringify({ at, sink, code: l.code, message: l.message, record });
    });
    appendFileSync(this.file, `${lines.join('\n')}\n`);
  }
}

export class DeadLetterMemory implements DeadLetterPlace {
  readonly letters: (DeadLetter & { sink: string })[] = [];

  async put(sink: string, letters: DeadLetter[]): Promise<void> {
    for (const l of letters) this.letters.push({ ...l, sink });
  }
}

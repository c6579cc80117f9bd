import { randomInt } from 'node:crypto';

export interface CancelTarget {
  /** Sends the cancel to the target; resolves true when it went out. */
  cancel(): Promise<boolean>;
}

/**
 * The gateway hands clients its own cancel keys, so a client never learns (or guesses) a target's,
 * and maps them back when a cancel request arrives.
 */
export class CancelRegistry {
  private readonly byKey = new Map<string, CancelTarget>();

  issue(target: CancelTarget): { processId: number; secretKey: number; release: () => void } {
    for (;;) {
      const processId = randomInt(1, 2 ** 31 - 1);
      const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
      const key = `${processId}:${secretKey}`;
      if (this.byKey.has(key)) continue;
      this.byKey.set(key, target);
      return { processId, secretKey, release: () => this.byKey.delete(key) };
    }
  }

  find(processId: number, secretKey: number): CancelTarget | undefined {
    return this.byKey.get(`${processId}:${secretKey}`);
  }
}

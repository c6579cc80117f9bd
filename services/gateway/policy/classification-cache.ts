import { literalShape } from './literal-shape.js';
import { classifyReadingLiterals, type Classification } from './statement-classifier.js';

const ENTRIES = 4096;
const MAX_TEXT = 64 * 1024;

/**
 * Classifications of statements already seen, so a statement is parsed once, not every time it comes: by its exact
 * text (drivers and scripts re-send the same text), and by its literal shape (literal-shape.ts) when no literal's
 * value decided its classes, so `... WHERE id = 1` and `... WHERE id = 2` share one parse. A classification that
 * read a value (`SET x = 'on'`, set_config, EXPLAIN options) or failed to parse is kept for its exact text only.
 */
export class ClassificationCache {
  private readonly exact = new Recent<Classification>(ENTRIES);
  private readonly shaped = new Recent<Classification>(ENTRIES);

  classify(text: string): Classification {
    const hit = this.exact.get(text);
    if (hit) return hit;
    const shape = text.length <= MAX_TEXT ? literalShape(text) : null;
    if (shape !== null) {
      const same = this.shaped.get(shape);
      if (same) return same;
    }
    const { classification, readsLiterals } = classifyReadingLiterals(text);
    if (text.length > MAX_TEXT) return classification;
    if (shape !== null && !readsLiterals && !classification.parseError) this.shaped.set(shape, classification);
    else this.exact.set(text, classification);
    return classification;
  }
}

/** A bounded map that forgets the least recently used entry first (a Map iterates in insertion order). */
class Recent<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.size) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

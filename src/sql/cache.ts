// The verdict cache: statement text → verdicts, bounded in entries and in characters held.
// Two generations stand in for an LRU list: a hit costs one Map lookup and relinks nothing.

/**
 * Entries go into the young generation. When it reaches half the entry or character budget it
 * becomes the old one and the previous old generation is dropped whole; a hit in the old
 * generation moves the entry back to the young one. What was used within the last half-budget of
 * insertions survives, as in an LRU, at most the full budget is held.
 */
export class VerdictCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private youngChars = 0;
  private readonly halfEntries: number;
  private readonly halfChars: number;

  constructor(
    maxEntries: number,
    /** longer texts are classified every time: a few MB of SQL is rarely sent twice */
    readonly maxTextLength: number,
    maxChars: number,
  ) {
    this.halfEntries = Math.max(1, Math.ceil(maxEntries / 2));
    this.halfChars = Math.max(maxTextLength, Math.ceil(maxChars / 2));
  }

  get(text: string): V | undefined {
    const hit = this.young.get(text);
    if (hit !== undefined) return hit;
    const aged = this.old.get(text);
    if (aged !== undefined) {
      this.old.delete(text);
      this.put(text, aged);
    }
    return aged;
  }

  set(text: string, value: V): void {
    if (text.length > this.maxTextLength || this.young.has(text)) return;
    this.old.delete(text);
    this.put(text, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngChars = 0;
  }

  private put(text: string, value: V): void {
    if (this.young.size >= this.halfEntries || this.youngChars + text.length > this.halfChars) {
      this.old = this.young;
      this.young = new Map();
      this.youngChars = 0;
    }
    this.young.set(text, value);
    this.youngChars += text.length;
  }
}

/** A growable ring-buffer FIFO: O(1) push, shift and peek without Array#shift's copying. */
export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;

  constructor(capacity = 8) {
    let c = 2;
    while (c < capacity) c <<= 1;
    this.buf = new Array<T | undefined>(c);
  }

  get length(): number {
    return this.len;
  }

  /** Slots the ring holds, used or not. */
  get capacity(): number {
    return this.buf.length;
  }

  push(v: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = v;
    this.len++;
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.len--;
    return v;
  }

  peek(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  /** The newest item (the one `push` added last), or undefined when empty. */
  last(): T | undefined {
    return this.len === 0 ? undefined : this.buf[(this.head + this.len - 1) & (this.buf.length - 1)];
  }

  /** Replaces the newest item; the deque must not be empty. */
  setLast(v: T): void {
    this.buf[(this.head + this.len - 1) & (this.buf.length - 1)] = v;
  }

  /**
   * Empty and holding more than `max` slots: trades them for a small ring. push and shift never
   * shrink it, so a burst kept its peak's slots (8 bytes each) for good. For owners to call where
   * a batch of work ends, never per item.
   */
  trim(max: number): void {
    if (this.len !== 0 || this.buf.length <= max) return;
    this.buf = new Array<T | undefined>(8);
    this.head = 0;
  }

  clear(): void {
    if (this.len === 0) return;
    this.buf = new Array<T | undefined>(Math.min(this.buf.length, 8));
    this.head = 0;
    this.len = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.len; i++) yield this.buf[(this.head + i) & (this.buf.length - 1)] as T;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

// StateList: an intrusive doubly-linked list, one per connection state, so moving a connection
// between states is O(1) with no allocation and SHOW POOLS counts are list sizes.

export interface Listed<T extends Listed<T>> {
  list: StateList<T> | null;
  prev: T | null;
  next: T | null;
}

export class StateList<T extends Listed<T>> {
  head: T | null = null;
  tail: T | null = null;
  size = 0;

  constructor(readonly name: string) {}

  push(item: T): void {
    item.list = this;
    item.prev = this.tail;
    item.next = null;
    if (this.tail !== null) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    if (item.prev !== null) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next !== null) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.list = null;
    item.prev = null;
    item.next = null;
    this.size--;
  }

  /** the oldest entry (FIFO side) */
  first(): T | null {
    return this.head;
  }

  /** the newest entry (LIFO side) */
  last(): T | null {
    return this.tail;
  }

  /** a snapshot, so callers may move entries while iterating */
  toArray(): T[] {
    const out: T[] = [];
    for (let item = this.head; item !== null; item = item.next) out.push(item);
    return out;
  }
}

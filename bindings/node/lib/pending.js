'use strict';
// pending.js: the unsettled sends of a producer, by token.
//
// Tokens are consecutive integers handed out by add(), so the promise
// functions of token t live at index t & mask of two ring arrays: settling
// is an array store, not a hash-map operation, and nothing is allocated
// per message. The ring doubles when full. `head` is the oldest unsettled
// token, which flush and close wait on. Tokens start at 0 (the library
// carries user_data as an integer, so any value is safe).

class Pending {
  constructor(capacity = 1024) {
    this.cap = capacity;
    this.mask = capacity - 1;
    this.res = new Array(capacity).fill(undefined);
    this.rej = new Array(capacity).fill(undefined);
    this.head = 0; // oldest token that may be unsettled
    this.next = 0; // the token add() hands out next
    this.size = 0;
  }

  /** The last token handed out (-1 before the first). */
  get last() { return this.next - 1; }

  /** The oldest unsettled token, or Infinity. */
  min() { return this.size > 0 ? this.head : Infinity; }

  /** Stores a send's promise functions; returns its token. */
  add(resolve, reject) {
    if (this.next - this.head >= this.cap) this.grow();
    const t = this.next++;
    const i = t & this.mask;
    this.res[i] = resolve;
    this.rej[i] = reject;
    this.size++;
    return t;
  }

  /** Removes token t and returns its resolve function (reject if `failed`), or undefined. */
  take(t, failed) {
    if (t < this.head || t >= this.next) return undefined;
    const i = t & this.mask;
    const f = failed ? this.rej[i] : this.res[i];
    if (f === undefined) return undefined;
    this.res[i] = undefined;
    this.rej[i] = undefined;
    this.size--;
    if (t === this.head) this.advance();
    return f;
  }

  resolve(t, value) {
    const f = this.take(t, false);
    if (f !== undefined) f(value);
  }

  reject(t, error) {
    const f = this.take(t, true);
    if (f !== undefined) f(error);
  }

  /** Rejects every unsettled send with makeError(). */
  rejectAll(makeError) {
    for (let t = this.head; t < this.next; t++) {
      const f = this.take(t, true);
      if (f !== undefined) f(makeError());
    }
  }

  advance() {
    const res = this.res;
    const mask = this.mask;
    let h = this.head;
    while (h < this.next && res[h & mask] === undefined) h++;
    this.head = h;
  }

  grow() {
    const cap = this.cap * 2;
    const mask = cap - 1;
    const res = new Array(cap).fill(undefined);
    const rej = new Array(cap).fill(undefined);
    for (let t = this.head; t < this.next; t++) {
      res[t & mask] = this.res[t & this.mask];
      rej[t & mask] = this.rej[t & this.mask];
    }
    this.cap = cap;
    this.mask = mask;
    this.res = res;
    this.rej = rej;
  }
}

module.exports = { Pending };

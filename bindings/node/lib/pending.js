'use strict';
// pending.js: the promise functions of a producer's unsettled sends, by
// token. Tokens are consecutive integers, so token t lives at index
// t & mask of two rings (doubled when full): settling is an array store,
// with nothing allocated per message. `head` is the oldest unsettled token.

class Pending {
  constructor(capacity = 1024) {
    this.mask = capacity - 1;
    this.res = new Array(capacity).fill(undefined);
    this.rej = new Array(capacity).fill(undefined);
    this.head = 0;
    this.next = 0; // the token add() hands out next
    this.size = 0;
  }

  /** The last token handed out (-1 before the first). */
  get last() { return this.next - 1; }

  /** The oldest unsettled token, or Infinity. */
  min() { return this.size > 0 ? this.head : Infinity; }

  add(resolve, reject) {
    if (this.next - this.head > this.mask) this.grow();
    const t = this.next++;
    this.res[t & this.mask] = resolve;
    this.rej[t & this.mask] = reject;
    this.size++;
    return t;
  }

  settle(t, ring, value) {
    const i = t & this.mask;
    const f = ring[i];
    if (t < this.head || t >= this.next || f === undefined) return;
    this.res[i] = this.rej[i] = undefined;
    this.size--;
    while (this.head < this.next && this.res[this.head & this.mask] === undefined) this.head++;
    f(value);
  }

  resolve(t, value) { this.settle(t, this.res, value); }

  reject(t, error) { this.settle(t, this.rej, error); }

  rejectAll(error) {
    for (let t = this.head; t < this.next; t++) this.reject(t, error);
  }

  grow() {
    const n = (this.mask + 1) * 2;
    const res = new Array(n).fill(undefined);
    const rej = new Array(n).fill(undefined);
    for (let t = this.head; t < this.next; t++) {
      res[t & (n - 1)] = this.res[t & this.mask];
      rej[t & (n - 1)] = this.rej[t & this.mask];
    }
    Object.assign(this, { mask: n - 1, res, rej });
  }
}

module.exports = { Pending };

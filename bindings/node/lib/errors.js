'use strict';
// errors.js: the error type of the package, generated from the library's
// result table (pp_result_table) when the package loads, so that codes and
// names can never drift from the C library's.
//
// Every failure is a PulsarError: an Error whose `code` is the numeric
// pp_result and whose `name` is the result's stable CamelCase name (such as
// "AlreadyClosed"), plus `kind` ("usage", "broker", "network") and
// `retriable`. Each result also has a subclass in `errors`, so that
// `err instanceof errors.Timeout` works, and `Result` maps names to codes.
const native = require('./native');

const table = native.resultTable();
const byCode = new Map(table.map((r) => [r.result, r]));

/** Numeric result codes by name, e.g. Result.AlreadyClosed === 15. */
const Result = Object.freeze(Object.fromEntries(table.map((r) => [r.name, r.result])));

class PulsarError extends Error {
  /**
   * @param {number} code a pp_result
   * @param {string} [message] what went wrong; defaults to the description
   */
  constructor(code, message) {
    const info = byCode.get(code);
    super(message || (info ? info.description : `result ${code}`));
    if (new.target === PulsarError) {
      // Subclasses carry the name on their prototype (so that the stack
      // trace, captured in super(), shows it); a bare PulsarError gets it here.
      Object.defineProperty(this, 'name', { value: info ? info.name : 'Unknown', configurable: true, writable: true });
    }
    this.code = code;
    this.kind = info ? info.kind : 'unknown';
    this.retriable = info ? info.retriable : false;
  }
}
Object.defineProperty(PulsarError.prototype, 'name', { value: 'PulsarError', configurable: true, writable: true });

/** One subclass of PulsarError per result (except Ok), by name. */
const errors = {};
for (const r of table) {
  if (r.result === 0) continue;
  const cls = class extends PulsarError {
    constructor(message) {
      super(r.result, message);
    }
  };
  Object.defineProperty(cls, 'name', { value: r.name });
  Object.defineProperty(cls.prototype, 'name', { value: r.name, configurable: true, writable: true });
  errors[r.name] = cls;
}
Object.freeze(errors);

/**
 * Creates the PulsarError (of the result's subclass) for a code. The
 * library's messages start with the result's name ("Timeout: ..."), which
 * the error's name already says, so it is dropped from the message.
 */
function makeError(code, message) {
  const info = byCode.get(code);
  if (info && message && message.startsWith(info.name + ': ')) {
    message = message.slice(info.name.length + 2);
  }
  const cls = info && errors[info.name];
  return cls ? new cls(message) : new PulsarError(code, message);
}

/** The table row of a result code, or undefined. */
function resultInfo(code) {
  const r = byCode.get(code);
  return r ? { ...r } : undefined;
}

/** Every row of the result table, in numeric order. */
function resultTable() {
  return table.map((r) => ({ ...r }));
}

function need(name) {
  const code = Result[name];
  if (code === undefined) throw new Error(`pulsar-producer: the library has no result named ${name}`);
  return code;
}

// The codes this package raises itself; looked up, not copied.
const codes = Object.freeze({
  ok: 0,
  unknown: need('UnknownError'),
  invalidArgument: need('InvalidArgument'),
  invalidConfiguration: need('InvalidConfiguration'),
  invalidUrl: need('InvalidUrl'),
  invalidTopicName: need('InvalidTopicName'),
  alreadyClosed: need('AlreadyClosed'),
  invalidHandle: need('InvalidHandle'),
  queueFull: need('ProducerQueueIsFull'),
  memoryFull: need('MemoryBufferIsFull'),
  timeout: need('Timeout'),
  invalidMessage: need('InvalidMessage'),
  bufferTooSmall: need('BufferTooSmall'),
});

module.exports = { PulsarError, errors, Result, makeError, resultInfo, resultTable, codes };

'use strict';
// errors.js: the package's errors, made when it loads from the result
// table (tables.json, generated from the engine's codes: the rows of the C
// library's pp_result_table, which unit.test.js compares), so that codes
// and names never drift from the library's or the WASI module's. Every failure is a PulsarError with the
// numeric `code` (a pp_result), a stable `name` ("AlreadyClosed"), `kind`
// (usage, broker, network) and `retriable`; each result has its subclass
// in `errors`. Codes the package raises itself are looked up by name.
const table = require('./tables.json').results;
const byCode = new Map(table.map((r) => [r.result, r]));

/** Result codes by name: Result.AlreadyClosed. */
const Result = Object.freeze(Object.fromEntries(table.map((r) => [r.name, r.result])));

class PulsarError extends Error {
  constructor(code, message) {
    const info = byCode.get(code);
    super(message || (info ? info.description : `result ${code}`));
    if (new.target === PulsarError) {
      Object.defineProperty(this, 'name', { value: info ? info.name : 'Unknown', configurable: true, writable: true });
    }
    this.code = code;
    this.kind = info ? info.kind : 'unknown';
    this.retriable = info ? info.retriable : false;
  }
}
Object.defineProperty(PulsarError.prototype, 'name', { value: 'PulsarError', configurable: true, writable: true });

const errors = {};
for (const r of table) {
  if (r.name === 'Ok') continue;
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

// The library's messages name C fields (sequence_id); users know them by their Node names (sequenceId).
const C_NAMES = { event_time_ms: 'eventTime', deliver_at_ms: 'deliverAt', deliver_after_ms: 'deliverAfter', sequence_id: 'sequenceId',
  ordering_key: 'orderingKey', replication_clusters: 'replicationClusters', payload_len: 'payload length', key_len: 'key length' };
const C_NAME_RE = new RegExp(`\\b(${Object.keys(C_NAMES).join('|')})\\b`, 'g');

/** The PulsarError (of the result's subclass) for a code; the result's name is dropped from the library's message. */
function makeError(code, message) {
  const info = byCode.get(code);
  if (info && message && message.startsWith(info.name + ': ')) message = message.slice(info.name.length + 2);
  if (message) message = message.replace(C_NAME_RE, (m) => C_NAMES[m]);
  const cls = info && errors[info.name];
  return cls ? new cls(message) : new PulsarError(code, message);
}

/** The codes this package handles or raises itself, looked up by name. */
const codes = Object.freeze(Object.fromEntries(['Ok', 'InvalidArgument', 'InvalidConfiguration', 'InvalidUrl',
  'InvalidTopicName', 'AlreadyClosed', 'ProducerQueueIsFull', 'MemoryBufferIsFull', 'Timeout', 'InvalidMessage',
  'BufferTooSmall', 'MessageTooBig', 'UnknownError', 'ProducerNotInitialized', 'AuthenticationError'].map((n) => {
  if (Result[n] === undefined) throw new Error(`pulsar-producer: the library has no result named ${n}`);
  return [n, Result[n]];
})));

/** What an aborted createProducer() rejects with, as Node's own APIs do. */
class AbortError extends Error {
  constructor(message = 'The operation was aborted', options) {
    super(message, options);
    this.code = 'ABORT_ERR';
  }
}
Object.defineProperty(AbortError.prototype, 'name', { value: 'AbortError', configurable: true, writable: true });

module.exports = {
  PulsarError, errors, Result, makeError, codes, AbortError,
  resultInfo: (code) => (byCode.has(code) ? { ...byCode.get(code) } : undefined),
  resultTable: () => table.map((r) => ({ ...r })),
  invalid: (message) => makeError(codes.InvalidArgument, message),
};

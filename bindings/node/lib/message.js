'use strict';
// message.js: the checking of a send's data and per-message options,
// shared by both backends' batches (batch.js for the native library,
// wasi/batch.js for the WASI module), and the size of one hand-over.
const { makeError, codes, invalid } = require('./errors');
const { int64, typeName } = require('./options');

const MAX_MESSAGES = 1000; // messages per hand-over (the algorithm shared with the Python binding and the WASI host)
const MAX_BYTES = 128 * 1024; // payload bytes per hand-over
const MAX_DELAY_MS = 9223372036854; // the longest delay the library takes (a Go duration)
const PROPERTY_SIZE = 32; // a pp_property, for the native batch's arena estimate

/** Bytes of a payload-like value: Uint8Array as is, other views and ArrayBuffers wrapped; else null. */
function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

/** A 64-bit field: a number or bigint (or a Date for times) from 0 to max (default 2^63-1). */
function int64Field(v, name, dates, max = Infinity) {
  const t = dates && v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' && typeof t !== 'bigint') {
    throw invalid(`${name} must be ${dates ? 'a Date, ' : ''}a number or a bigint, got ${typeName(v)}`);
  }
  const range = `from 0 to ${max === Infinity ? '2^63-1' : max}`;
  return int64(t, (why) => makeError(codes.InvalidMessage, `${name} ${why}: ${String(t)} (${range})`), 0, max);
}

function str(v, name) {
  if (typeof v !== 'string') throw invalid(`${name} must be a string, got ${typeName(v)}`);
  return [v, Buffer.byteLength(v)];
}

/** Checks and measures the per-message options of a send; null for none (unless always). */
function prepare(opts, always = false) {
  if (typeof opts !== 'object' || opts === null) throw invalid(`send options must be an object, got ${typeName(opts)}`);
  const o = { bytes: 16, key: null, orderingKey: null, props: null, clusters: null, event_time_ms: 0, deliver_at_ms: 0,
    deliver_after_ms: 0, sequence_id: -1, disableReplication: false, valueJson: null, partition: -1 };
  let used = false;
  for (const name of Object.keys(opts)) {
    const v = opts[name];
    if (v === undefined) continue;
    used = true;
    switch (name) {
      case 'key': // '' is an empty key (Java semantics), undefined none
        o.key = str(v, 'key');
        o.bytes += o.key[1];
        break;
      case 'orderingKey':
        o.orderingKey = typeof v === 'string' ? Buffer.from(v) : asBytes(v);
        if (o.orderingKey === null) throw invalid(`orderingKey must be a string or bytes, got ${typeName(v)}`);
        o.bytes += o.orderingKey.length;
        break;
      case 'properties':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`properties must be an object of strings, got ${typeName(v)}`);
        o.props = Object.entries(v).map(([k, s]) => [str(k, 'a property name'), str(s, `property ${JSON.stringify(k)}`)]);
        o.bytes += 8 + o.props.length * PROPERTY_SIZE + o.props.reduce((n, [k, s]) => n + k[1] + s[1], 0);
        break;
      case 'replicationClusters':
        if (!Array.isArray(v)) throw invalid(`replicationClusters must be an array of strings, got ${typeName(v)}`);
        o.clusters = v.map((c, i) => {
          const s = str(c, `replicationClusters[${i}]`);
          if (c.includes('\0')) throw invalid(`replicationClusters[${i}] must not contain a NUL character`);
          return s;
        });
        o.bytes += 8 + o.clusters.reduce((n, c) => n + 9 + c[1], 0);
        break;
      case 'eventTime': o.event_time_ms = int64Field(v, name, true); break;
      case 'deliverAt': o.deliver_at_ms = int64Field(v, name, true); break;
      case 'deliverAfter': o.deliver_after_ms = int64Field(v, name, false, MAX_DELAY_MS); break;
      case 'sequenceId': o.sequence_id = int64Field(v, name, false); break;
      case 'disableReplication':
        if (typeof v !== 'boolean') throw invalid(`disableReplication must be a boolean, got ${typeName(v)}`);
        o.disableReplication = v;
        break;
      default:
        throw invalid(`unknown send option ${JSON.stringify(name)}`);
    }
  }
  if (opts.deliverAt !== undefined && opts.deliverAfter !== undefined) {
    throw makeError(codes.InvalidMessage, 'set deliverAt or deliverAfter, not both');
  }
  return used || always ? o : null;
}

module.exports = { prepare, asBytes, MAX_MESSAGES, MAX_BYTES };

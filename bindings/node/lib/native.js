'use strict';
// native.js: finds libpulsar_producer, loads it with koffi, checks its ABI
// version, and declares the functions and struct layouts of
// include/pulsar_producer.h (ABI 1.x) that the other modules use.
//
// Where the library comes from, first match wins: the PULSAR_PRODUCER_LIB
// environment variable (a file); prebuilds/<platform>-<arch>/ in this
// package; build/lib/ of the repository when the package sits in a checkout.
//
// Cost of a call: koffi runs C calls on a stack of its own, so the Go runtime
// re-reads the thread's stack bounds on every call into Go: a few hundred
// microseconds on the main thread, a few on a libuv thread. So hot paths
// (sends, drains) use .async() and carry many messages per call. Memory a
// call reads while JavaScript goes on comes from koffi.alloc() (it never
// moves) and is passed as integer addresses (uint64_t).
const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const PACKAGE_VERSION = require('../package.json').version;
const ABI = [1, 0]; // the header this package was written against

function open() {
  const name = process.platform === 'darwin' ? 'libpulsar_producer.dylib' : 'libpulsar_producer.so';
  const pkg = path.resolve(__dirname, '..');
  const repo = path.resolve(pkg, '..', '..');
  const tried = process.env.PULSAR_PRODUCER_LIB ? [[path.resolve(process.env.PULSAR_PRODUCER_LIB), 'PULSAR_PRODUCER_LIB']] : [
    [path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, name), 'package'],
    ...(fs.existsSync(path.join(repo, 'include', 'pulsar_producer.h')) ? [[path.join(repo, 'build', 'lib', name), 'repository build']] : []),
  ];
  const found = tried.find(([p]) => fs.existsSync(p));
  if (!found) {
    throw new Error(`pulsar-producer: cannot find ${name}; looked in:\n${tried.map(([p, why]) => `  ${p} (${why})`).join('\n')}\n` +
      'Build it with `make lib` in the repository, or set PULSAR_PRODUCER_LIB to its path.');
  }
  const file = found[0];
  let lib;
  let v;
  try {
    lib = koffi.load(file);
    v = lib.func('int pp_version(void)')();
  } catch (e) {
    throw new Error(`pulsar-producer: cannot load ${file} as libpulsar_producer: ${e.message}`);
  }
  const version = `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
  if (((v >> 16) & 0xff) !== ABI[0] || ((v >> 8) & 0xff) < ABI[1]) {
    throw new Error(`pulsar-producer: ${file} is version ${version}, but this package (pulsar-producer ${PACKAGE_VERSION}) ` +
      `needs version ${ABI[0]}.x, at least ${ABI.join('.')}.0; rebuild the library (make lib) or point PULSAR_PRODUCER_LIB at a matching one.`);
  }
  return { lib, file, version };
}

const { lib, file, version } = open();

const struct = (name, fields) => koffi.struct(name, Object.fromEntries(fields.split(', ').map((f) => f.split(' ').reverse())));
const MessageIdT = struct('pp_message_id', 'int64_t ledger_id, int64_t entry_id, int32_t partition, int32_t batch_index, ' +
  'int32_t batch_size, int32_t flags, int64_t first_chunk_ledger_id, int64_t first_chunk_entry_id');
const CompletionT = koffi.struct('pp_completion', { producer: 'uint64_t', user_data: 'void *', result: 'int', id: MessageIdT, error: 'const char *' });
const PropertyT = struct('pp_property', 'void* key, size_t key_len, void* value, size_t value_len');
const MessageT = struct('pp_message', 'size_t struct_size, void* payload, size_t payload_len, int null_value, void* key, ' +
  'size_t key_len, void* ordering_key, size_t ordering_key_len, void* properties, size_t property_count, ' +
  'int64_t event_time_ms, int64_t deliver_at_ms, int64_t deliver_after_ms, int64_t sequence_id, ' +
  'void* replication_clusters, size_t replication_cluster_count, int disable_replication, void* value_json, ' +
  'size_t value_json_len, int32_t partition');
const ResultInfoT = struct('pp_result_info', 'int result, str name, str kind, int retriable, str description');
const StatsT = struct('pp_stats', 'size_t struct_size, int64_t msgs_sent, int64_t bytes_sent, int64_t msgs_acked, ' +
  'int64_t bytes_acked, int64_t msgs_failed, int64_t bytes_failed, int64_t pending_msgs, int64_t pending_bytes, ' +
  'int64_t reconnects, int64_t latency_count, int64_t latency_p50_us, int64_t latency_p95_us, int64_t latency_p99_us, ' +
  'int64_t latency_p999_us, int64_t latency_max_us, int32_t producers, int32_t connections, int64_t connects');
// A token supplier, called by the library on its own threads (see auth.js).
const TokenCbT = koffi.proto('int pp_token_cb(uintptr_t user_data, void *buf, size_t size, void *len)');
const LogRecordT = struct('pp_log_record', 'int level, int64_t time_ms, str message, str topic, str producer_name, str broker, uint64_t connection');

function offsets(type) {
  const o = { size: koffi.sizeof(type) };
  for (const f of Object.keys(koffi.introspect(type).members)) o[f] = koffi.offsetof(type, f);
  return o;
}
const layout = { messageId: offsets(MessageIdT), completion: offsets(CompletionT), property: offsets(PropertyT), message: offsets(MessageT) };

// Handles are plain numbers (counted up from 0x5050_0000_0001, far below
// 2^53); out-parameters are arrays or typed arrays; errbufs are Buffers.
const E = 'void *errbuf, size_t errbuf_size';
const fn = Object.fromEntries(Object.entries({
  versionStr: 'str pp_version_str(void)',
  resultTable: 'void *pp_result_table(_Out_ size_t *count)',
  optionsJson: 'str pp_options_json(void)',
  clientStart: `int pp_client_start(const char *url, size_t url_len, str options, void *out, ${E})`,
  clientClose: `int pp_client_close(uint64_t client, int timeout_ms, ${E})`,
  clientStop: `int pp_client_stop(uint64_t client, int timeout_ms, ${E})`,
  eventFd: 'int pp_client_event_fd(uint64_t client, _Out_ int *fd)',
  setTokenProvider: `int pp_client_set_token_provider(uint64_t client, pp_token_cb *cb, uintptr_t user_data, ${E})`,
  producerOpen: `int pp_producer_open(uint64_t client, const char *topic, size_t topic_len, str options, void *out, ${E})`,
  producerWait: `int pp_producer_wait(uint64_t producer, int timeout_ms, ${E})`,
  sendBatch: `int pp_send_batch(uint64_t producer, uint64_t data, uint64_t lens, size_t count, int flags, void *cb, uint64_t user_data, void *accepted, ${E})`,
  sendMessages: `int pp_send_messages(uint64_t producer, uint64_t msgs, size_t count, int flags, void *cb, uint64_t user_data, void *accepted, ${E})`,
  drain: 'int pp_drain(uint64_t client, void *out, size_t capacity, int timeout_ms, void *count)',
  logs: 'int pp_client_logs(uint64_t client, void *out, size_t capacity, _Out_ size_t *count)',
  flush: `int pp_flush(uint64_t handle, int timeout_ms, ${E})`,
  close: `int pp_close(uint64_t producer, int timeout_ms, ${E})`,
  stop: `int pp_stop(uint64_t producer, int timeout_ms, ${E})`,
  pending: 'int pp_pending(uint64_t handle, _Out_ size_t *pending)',
  producerName: 'int pp_producer_name(uint64_t producer, void *buf, size_t size, _Out_ size_t *needed)',
  partitions: 'int pp_producer_partitions(uint64_t producer, _Out_ int32_t *partitions)',
  producerStats: 'int pp_producer_stats(uint64_t producer, _Inout_ pp_stats *out)',
  clientStats: 'int pp_client_stats(uint64_t client, _Inout_ pp_stats *out)',
  idStr: 'size_t pp_message_id_str(const pp_message_id *id, void *buf, size_t size)',
  idSerialize: 'int pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, _Out_ size_t *needed)',
  idDeserialize: 'int pp_message_id_deserialize(void *buf, size_t len, _Out_ pp_message_id *out)',
}).map(([k, decl]) => [k, lib.func(decl)]));

/** Native memory that does not move: koffi.alloc() plus views of it (its size rounded up to 8 bytes for the 64-bit view). */
class Arena {
  constructor(size) {
    size = Math.ceil(size / 8) * 8;
    this.size = size;
    this.ptr = koffi.alloc('uint8_t', size);
    this.addr = Number(koffi.address(this.ptr));
    const ab = koffi.view(this.ptr, size);
    [this.u8, this.u32, this.i32, this.i64, this.buf] = [new Uint8Array(ab), new Uint32Array(ab), new Int32Array(ab),
      new BigInt64Array(ab), Buffer.from(ab)];
  }

  free() {
    if (this.ptr) koffi.free(this.ptr);
    this.ptr = null;
  }
}

// koffi refuses a new .async() call while max_async_calls (256) are queued
// or running; such a call waits here and is made when another one ends.
const deferred = [];

/** Calls f(...args) with .async() on a libuv thread; done(err, result) follows on the main thread. */
function asyncCall(f, args, done) {
  try {
    f.async(...args, (err, rc) => {
      if (deferred.length > 0) asyncCall(...deferred.shift());
      done(err, rc);
    });
  } catch (e) {
    if (!/too many/i.test(e.message)) throw e;
    deferred.push([f, args, done]);
  }
}

/** The rows of pp_result_table(). */
function resultTable() {
  const count = [0];
  const rows = koffi.decode(fn.resultTable(count), koffi.array(ResultInfoT, Number(count[0])));
  return rows.map((r) => ({ ...r, retriable: r.retriable !== 0 }));
}

/** pp_stats of a producer or client, with camelCase names (latency_p50_us: latencyP50Us). */
function stats(f, h) {
  const out = { struct_size: koffi.sizeof(StatsT) };
  const rc = f(h, out);
  delete out.struct_size;
  return { rc, stats: Object.fromEntries(Object.entries(out).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()), Number(v)])) };
}

module.exports = {
  koffi, fn, layout, Arena, file, version, PACKAGE_VERSION, stats, asyncCall, TokenCbT,
  resultTable,
  optionTable: () => JSON.parse(fn.optionsJson()),
  logRecordSize: koffi.sizeof(LogRecordT),
  logRecords: (buf, n) => koffi.decode(buf, koffi.array(LogRecordT, n)),
  readCString: (buf, offset) => koffi.decode(buf, offset, 'const char *'),
};

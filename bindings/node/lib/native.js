'use strict';
// native.js: finds libpulsar_producer, loads it with koffi, checks its ABI
// version and declares the C functions and struct layouts of
// include/pulsar_producer.h (ABI 1.x) that the other modules use.
//
// Where the library comes from, first match wins: the PULSAR_PRODUCER_LIB
// environment variable (a file); prebuilds/<platform>-<arch>/ in this
// package; build/lib/ of the repository when the package sits in a checkout.
//
// Cost of a call: koffi runs C calls on a stack of its own, so the Go runtime
// in the library re-reads the thread's stack bounds on every call into Go:
// a few hundred microseconds on the main thread, a few microseconds on a
// libuv worker thread. Hot paths (sends, drains) therefore use .async() and
// carry thousands of messages per call; the main thread calls into Go only
// for rare things (starting, names, stats, logs).
//
// Memory that a library call reads while JavaScript goes on (staged
// messages) comes from koffi.alloc(), whose address never changes, and is
// passed as integer addresses (uint64_t).
const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const PACKAGE_VERSION = require('../package.json').version;
const ABI_MAJOR = 1; // the header this package was written against: 1.0
const ABI_MINOR = 0;

function candidates() {
  const name = process.platform === 'darwin' ? 'libpulsar_producer.dylib' : 'libpulsar_producer.so';
  if (process.env.PULSAR_PRODUCER_LIB) return [[path.resolve(process.env.PULSAR_PRODUCER_LIB), 'PULSAR_PRODUCER_LIB']];
  const pkg = path.resolve(__dirname, '..');
  const list = [[path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, name), 'package']];
  const repo = path.resolve(pkg, '..', '..');
  if (fs.existsSync(path.join(repo, 'include', 'pulsar_producer.h'))) list.push([path.join(repo, 'build', 'lib', name), 'repository build']);
  return list;
}

function open() {
  const tried = candidates();
  const found = tried.find(([p]) => fs.existsSync(p));
  if (!found) {
    throw new Error(`pulsar-producer: cannot find ${path.basename(tried[0][0])}; looked in:\n` +
      tried.map(([p, why]) => `  ${p} (${why})`).join('\n') +
      '\nBuild it with `make lib` in the repository, or set PULSAR_PRODUCER_LIB to its path.');
  }
  const file = found[0];
  let lib;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new Error(`pulsar-producer: cannot load ${file}: ${e.message}`);
  }
  let v;
  try {
    v = lib.func('int pp_version(void)')();
  } catch (e) {
    throw new Error(`pulsar-producer: ${file} is not libpulsar_producer (no pp_version: ${e.message})`);
  }
  const version = `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
  if (((v >> 16) & 0xff) !== ABI_MAJOR || ((v >> 8) & 0xff) < ABI_MINOR) {
    throw new Error(`pulsar-producer: ${file} is version ${version}, but this package (pulsar-producer ` +
      `${PACKAGE_VERSION}) needs version ${ABI_MAJOR}.x, at least ${ABI_MAJOR}.${ABI_MINOR}.0; ` +
      'rebuild the library (make lib) or point PULSAR_PRODUCER_LIB at a matching one.');
  }
  return { lib, file, version };
}

const { lib, file, version } = open();

const MessageIdT = koffi.struct('pp_message_id', {
  ledger_id: 'int64_t', entry_id: 'int64_t', partition: 'int32_t', batch_index: 'int32_t', batch_size: 'int32_t', flags: 'int32_t',
});
const CompletionT = koffi.struct('pp_completion', {
  producer: 'uint64_t', user_data: 'void *', result: 'int', id: MessageIdT, error: 'const char *',
});
const PropertyT = koffi.struct('pp_property', {
  key: 'const char *', key_len: 'size_t', value: 'const char *', value_len: 'size_t',
});
const MessageT = koffi.struct('pp_message', {
  struct_size: 'size_t', payload: 'const void *', payload_len: 'size_t', null_value: 'int',
  key: 'const char *', key_len: 'size_t', ordering_key: 'const void *', ordering_key_len: 'size_t',
  properties: 'const pp_property *', property_count: 'size_t', event_time_ms: 'int64_t',
  deliver_at_ms: 'int64_t', deliver_after_ms: 'int64_t', sequence_id: 'int64_t',
  replication_clusters: 'const char **', replication_cluster_count: 'size_t', disable_replication: 'int',
});
const ResultInfoT = koffi.struct('pp_result_info', {
  result: 'int', name: 'const char *', kind: 'const char *', retriable: 'int', description: 'const char *',
});
const StatsT = koffi.struct('pp_stats', {
  struct_size: 'size_t', msgs_sent: 'int64_t', bytes_sent: 'int64_t', msgs_acked: 'int64_t', bytes_acked: 'int64_t',
  msgs_failed: 'int64_t', bytes_failed: 'int64_t', pending_msgs: 'int64_t', pending_bytes: 'int64_t',
  reconnects: 'int64_t', latency_count: 'int64_t', latency_p50_us: 'int64_t', latency_p95_us: 'int64_t',
  latency_p99_us: 'int64_t', latency_p999_us: 'int64_t', latency_max_us: 'int64_t', producers: 'int32_t',
  connections: 'int32_t', connects: 'int64_t',
});
const LogRecordT = koffi.struct('pp_log_record', {
  level: 'int', time_ms: 'int64_t', message: 'const char *', topic: 'const char *',
  producer_name: 'const char *', broker: 'const char *', connection: 'uint64_t',
});

function offsets(type) {
  const o = { size: koffi.sizeof(type) };
  for (const f of Object.keys(koffi.introspect(type).members)) o[f] = koffi.offsetof(type, f);
  return Object.freeze(o);
}
const layout = Object.freeze({
  messageId: offsets(MessageIdT), completion: offsets(CompletionT), property: offsets(PropertyT), message: offsets(MessageT),
});

// Handles are plain numbers (the library's count up from 0x5050_0000_0001,
// far below 2^53); out-parameters are typed arrays; errbufs are Buffers.
const H = 'uint64_t';
const E = 'void *errbuf, size_t errbuf_size';
const fn = {
  versionStr: lib.func('const char *pp_version_str(void)'),
  resultTable: lib.func('void *pp_result_table(_Out_ size_t *count)'),
  optionsJson: lib.func('const char *pp_options_json(void)'),
  clientStart: lib.func(`int pp_client_start(const char *url, size_t url_len, const char *options, void *out, ${E})`),
  clientClose: lib.func(`int pp_client_close(${H} client, int timeout_ms, ${E})`),
  clientStop: lib.func(`int pp_client_stop(${H} client, int timeout_ms, ${E})`),
  eventFd: lib.func(`int pp_client_event_fd(${H} client, _Out_ int *fd)`),
  producerOpen: lib.func(`int pp_producer_open(${H} client, const char *topic, size_t topic_len, const char *options, void *out, ${E})`),
  producerWait: lib.func(`int pp_producer_wait(${H} producer, int timeout_ms, ${E})`),
  sendBatch: lib.func(`int pp_send_batch(${H} producer, uint64_t data, uint64_t lens, size_t count, int flags, void *cb, uint64_t user_data, void *accepted, ${E})`),
  sendMessages: lib.func(`int pp_send_messages(${H} producer, uint64_t msgs, size_t count, int flags, void *cb, uint64_t user_data, void *accepted, ${E})`),
  drain: lib.func(`int pp_drain(${H} client, void *out, size_t capacity, int timeout_ms, void *count)`),
  logs: lib.func(`int pp_client_logs(${H} client, void *out, size_t capacity, _Out_ size_t *count)`),
  flush: lib.func(`int pp_flush(${H} handle, int timeout_ms, ${E})`),
  close: lib.func(`int pp_close(${H} producer, int timeout_ms, ${E})`),
  stop: lib.func(`int pp_stop(${H} producer, int timeout_ms, ${E})`),
  pending: lib.func(`int pp_pending(${H} handle, _Out_ size_t *pending)`),
  producerName: lib.func(`int pp_producer_name(${H} producer, void *buf, size_t size, _Out_ size_t *needed)`),
  partitions: lib.func(`int pp_producer_partitions(${H} producer, _Out_ int32_t *partitions)`),
  producerStats: lib.func(`int pp_producer_stats(${H} producer, _Inout_ pp_stats *out)`),
  clientStats: lib.func(`int pp_client_stats(${H} client, _Inout_ pp_stats *out)`),
  idStr: lib.func('size_t pp_message_id_str(const pp_message_id *id, void *buf, size_t size)'),
  idSerialize: lib.func('int pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, _Out_ size_t *needed)'),
  idDeserialize: lib.func('int pp_message_id_deserialize(void *buf, size_t len, _Out_ pp_message_id *out)'),
};

/** The rows of pp_result_table(). */
function resultTable() {
  const count = [0];
  const rows = koffi.decode(fn.resultTable(count), koffi.array(ResultInfoT, Number(count[0])));
  return rows.map((r) => ({ result: r.result, name: r.name, kind: r.kind, retriable: r.retriable !== 0, description: r.description }));
}

/** Native memory that does not move: koffi.alloc() plus views of it. */
class Arena {
  constructor(size) {
    this.size = size;
    this.ptr = koffi.alloc('uint8_t', size);
    this.addr = Number(koffi.address(this.ptr));
    const ab = koffi.view(this.ptr, size);
    this.u8 = new Uint8Array(ab);
    this.u32 = new Uint32Array(ab);
    this.i64 = new BigInt64Array(ab);
    this.buf = Buffer.from(ab);
  }

  free() {
    if (this.ptr) koffi.free(this.ptr);
    this.ptr = null;
  }
}

/** pp_stats of a producer or client, with camelCase names (latency_p50_us: latencyP50Us). */
function stats(f, h) {
  const out = { struct_size: koffi.sizeof(StatsT) };
  const rc = f(h, out);
  const s = {};
  for (const [k, v] of Object.entries(out)) {
    if (k !== 'struct_size') s[k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = Number(v);
  }
  return { rc, stats: s };
}

/** Decodes n log records from buf. */
function logRecords(buf, n) {
  return koffi.decode(buf, koffi.array(LogRecordT, n));
}

module.exports = {
  koffi, fn, layout, Arena, file, version, PACKAGE_VERSION, resultTable, stats, logRecords,
  optionTable: () => JSON.parse(fn.optionsJson()),
  logRecordSize: koffi.sizeof(LogRecordT),
  readCString: (buf, offset) => koffi.decode(buf, offset, 'const char *'),
};

'use strict';
// native.js: finds libpulsar_producer, loads it with koffi, declares the C
// functions of include/pulsar_producer.h and the struct layouts the other
// modules write and read by hand.
//
// Where the library comes from, first match wins:
//   1. the PULSAR_PRODUCER_LIB environment variable (a file path);
//   2. prebuilds/<platform>-<arch>/ inside this package (filled by the
//      Makefile's copy step or by packaging);
//   3. build/lib/ of the repository, when this package sits in a checkout
//      of it (bindings/node/).
// The library's pp_version() must equal this package's version: a mismatch
// is an error naming both and the file.
//
// Cost of a call. Koffi runs every C call on a stack of its own. The Go
// runtime inside the library then cannot trust its cached stack bounds and
// re-reads them on each call into Go; on a process's main thread that means
// parsing /proc/self/maps, a few hundred microseconds per call. So the main
// thread calls the hot paths (send, drain) with .async() on libuv worker
// threads, where the same re-read costs a few microseconds, and hands
// messages over in batches (producer.js).
//
// Pointers. Addresses are passed as plain integers (uint64_t) into memory
// from koffi.alloc(), whose address is stable; the other modules lay out
// pp_message, the length and user_data arrays, and read pp_completion at the
// offsets computed here.
const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const PACKAGE_VERSION = require('../package.json').version;

/** The file name of the shared library on this platform. */
function libraryFileName() {
  switch (process.platform) {
    case 'win32': return 'pulsar_producer.dll';
    case 'darwin': return 'libpulsar_producer.dylib';
    default: return 'libpulsar_producer.so';
  }
}

/** Where to look for the library, in order, as [path, why] pairs. */
function candidates() {
  const name = libraryFileName();
  const pkgDir = path.resolve(__dirname, '..');
  const list = [];
  if (process.env.PULSAR_PRODUCER_LIB) {
    // An explicit choice: no fallback if it is wrong.
    return [[path.resolve(process.env.PULSAR_PRODUCER_LIB), 'PULSAR_PRODUCER_LIB']];
  }
  list.push([path.join(pkgDir, 'prebuilds', `${process.platform}-${process.arch}`, name), 'package']);
  const repo = path.resolve(pkgDir, '..', '..');
  if (fs.existsSync(path.join(repo, 'include', 'pulsar_producer.h'))) {
    list.push([path.join(repo, 'build', 'lib', name), 'repository build']);
  }
  return list;
}

function versionString(v) {
  return `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
}

function expectedVersion() {
  const [major, minor, patch] = PACKAGE_VERSION.split('.').map((s) => parseInt(s, 10));
  return (major << 16) | (minor << 8) | patch;
}

/** Loads and checks the library; throws an Error saying what is wrong. */
function open() {
  const tried = candidates();
  const found = tried.find(([p]) => fs.existsSync(p));
  if (!found) {
    const where = tried.map(([p, why]) => `  ${p} (${why})`).join('\n');
    throw new Error(`pulsar-producer: cannot find ${libraryFileName()}; looked in:\n${where}\n` +
      'Build it with `make lib` in the repository, or set PULSAR_PRODUCER_LIB to its path.');
  }
  const file = found[0];
  let lib;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new Error(`pulsar-producer: cannot load ${file}: ${e.message}`);
  }
  let version;
  try {
    version = lib.func('int pp_version(void)')();
  } catch (e) {
    throw new Error(`pulsar-producer: ${file} is not libpulsar_producer (no pp_version: ${e.message})`);
  }
  if (version !== expectedVersion()) {
    throw new Error(`pulsar-producer: ${file} is version ${versionString(version)}, ` +
      `but this package (pulsar-producer ${PACKAGE_VERSION}) needs version ${PACKAGE_VERSION}; ` +
      'rebuild the library (make lib) or point PULSAR_PRODUCER_LIB at a matching one.');
  }
  return { lib, file, version: versionString(version) };
}

const { lib, file, version } = open();

// Struct layouts, as the header declares them. Koffi computes the offsets
// for this platform's ABI; the code that fills and reads the structs uses
// the numbers exported below.
const MessageIdT = koffi.struct('pp_message_id', {
  ledger_id: 'int64_t',
  entry_id: 'int64_t',
  partition: 'int32_t',
  batch_index: 'int32_t',
  batch_size: 'int32_t',
});
const CompletionT = koffi.struct('pp_completion', {
  user_data: 'void *',
  result: 'int',
  id: MessageIdT,
  error: 'const char *',
});
const PropertyT = koffi.struct('pp_property', {
  key: 'const char *',
  value: 'const char *',
});
const MessageT = koffi.struct('pp_message', {
  struct_size: 'size_t',
  payload: 'const void *',
  payload_len: 'size_t',
  null_value: 'int',
  key: 'const char *',
  ordering_key: 'const void *',
  ordering_key_len: 'size_t',
  properties: 'const pp_property *',
  property_count: 'size_t',
  event_time_ms: 'int64_t',
  deliver_at_ms: 'int64_t',
  deliver_after_ms: 'int64_t',
  sequence_id: 'int64_t',
  replication_clusters: 'const char **',
  replication_cluster_count: 'size_t',
  disable_replication: 'int',
});
const ResultInfoT = koffi.struct('pp_result_info', {
  result: 'int',
  name: 'const char *',
  kind: 'const char *',
  retriable: 'int',
  description: 'const char *',
});

function offsets(type, fields) {
  const o = { size: koffi.sizeof(type) };
  for (const f of fields) o[f] = koffi.offsetof(type, f);
  return Object.freeze(o);
}

const layout = Object.freeze({
  pointerSize: koffi.sizeof('void *'),
  messageId: offsets(MessageIdT, ['ledger_id', 'entry_id', 'partition', 'batch_index', 'batch_size']),
  completion: offsets(CompletionT, ['user_data', 'result', 'id', 'error']),
  property: offsets(PropertyT, ['key', 'value']),
  message: offsets(MessageT, ['struct_size', 'payload', 'payload_len', 'null_value', 'key',
    'ordering_key', 'ordering_key_len', 'properties', 'property_count', 'event_time_ms',
    'deliver_at_ms', 'deliver_after_ms', 'sequence_id', 'replication_clusters',
    'replication_cluster_count', 'disable_replication']),
});

// Functions. Out-parameters and byte buffers are declared `void *` and
// given typed arrays or Buffers; addresses inside koffi.alloc() memory
// (payloads, lengths, structs, user_data arrays) are declared uint64_t and
// given as numbers. The delivery callback is always NULL: completions are
// taken with pp_drain.
const fn = {
  versionStr: lib.func('const char *pp_version_str(void)'),
  resultTable: lib.func('void *pp_result_table(_Out_ size_t *count)'),
  optionsJson: lib.func('const char *pp_options_json(void)'),
  start: lib.func('int pp_start(const char *url, const char *topic, const char *options, ' +
    'void *out, void *errbuf, size_t errbuf_size)'),
  // Payload-only messages, packed back to back at `data`.
  sendBatch: lib.func('int pp_send_batch(uint64_t producer, uint64_t data, uint64_t lens, size_t count, ' +
    'void *cb, uint64_t user_data, void *accepted, void *errbuf, size_t errbuf_size)'),
  // Messages with options, as an array of pp_message.
  sendMessages: lib.func('int pp_send_messages(uint64_t producer, uint64_t msgs, size_t count, void *cb, ' +
    'uint64_t user_data, void *accepted, void *errbuf, size_t errbuf_size)'),
  drain: lib.func('int pp_drain(uint64_t producer, void *out, size_t capacity, int timeout_ms, void *count)'),
  flush: lib.func('int pp_flush(uint64_t producer, int timeout_ms, void *errbuf, size_t errbuf_size)'),
  close: lib.func('int pp_close(uint64_t producer, int timeout_ms, void *errbuf, size_t errbuf_size)'),
  stop: lib.func('int pp_stop(uint64_t producer, int timeout_ms, void *errbuf, size_t errbuf_size)'),
  pending: lib.func('int pp_pending(uint64_t producer, void *pending)'),
  producerName: lib.func('int pp_producer_name(uint64_t producer, void *buf, size_t size, void *needed)'),
  producerPartitions: lib.func('int pp_producer_partitions(uint64_t producer, void *partitions)'),
  idStr: lib.func('size_t pp_message_id_str(void *id, void *buf, size_t size)'),
  idSerialize: lib.func('int pp_message_id_serialize(void *id, void *buf, size_t size, void *needed)'),
  idDeserialize: lib.func('int pp_message_id_deserialize(void *buf, size_t len, void *out)'),
};

/** The rows of pp_result_table(), as plain objects. */
function resultTable() {
  const count = [0];
  const ptr = fn.resultTable(count);
  const rows = koffi.decode(ptr, koffi.array(ResultInfoT, Number(count[0])));
  return rows.map((r) => ({
    result: r.result,
    name: r.name,
    kind: r.kind,
    retriable: r.retriable !== 0,
    description: r.description,
  }));
}

/** The library's option table (pp_options_json), parsed. */
function optionTable() {
  return JSON.parse(fn.optionsJson());
}

/** Native memory that does not move: koffi.alloc() plus a view of it. */
class Arena {
  constructor(size) {
    this.size = size;
    this.ptr = koffi.alloc('uint8_t', size);
    this.addr = Number(koffi.address(this.ptr));
    const ab = koffi.view(this.ptr, size);
    this.u8 = new Uint8Array(ab);
    this.u32 = new Uint32Array(ab);
    this.i32 = new Int32Array(ab);
    this.buf = Buffer.from(ab);
  }

  free() {
    if (this.ptr) {
      koffi.free(this.ptr);
      this.ptr = null;
    }
  }
}

/** Reads a NUL-terminated C string whose pointer is stored at buf[offset]. */
function readCStringAt(buf, offset) {
  return koffi.decode(buf, offset, 'const char *');
}

module.exports = {
  koffi, lib, fn, layout, Arena, file, version, PACKAGE_VERSION, resultTable, optionTable, readCStringAt,
};

'use strict';
// wasi/module.js: one instance of pulsar_producer.wasm under node:wasi, with
// the plumbing wasm/ABI.md asks of a host: blocks from ppw_alloc (grown on
// BufferTooSmall), the status block read after every call, strings and
// bytes copied in, event records decoded, and a trap turned into a broken
// instance whose every later call fails with the same error.
//
// The module file: PULSAR_PRODUCER_WASM (a path), else wasm/ in this
// package, else build/wasm/ of the repository when the package sits in a
// checkout. It is compiled once per process (WebAssembly.Module is cheap to
// instantiate again); each client gets an instance of its own. No file
// system, arguments or environment are given to it; stderr is the
// process's, where the Go runtime writes a fatal error.
const fs = require('node:fs');
const path = require('node:path');
const { codes } = require('../errors');

const ABI_VERSION = 7;
const STATUS = { code: 0, events: 4, output: 8, deadline: 16, result0: 24, result1: 32, roomMessages: 48, roomBytes: 56 };

let WASI = null;
/** node:wasi, loaded without its one-time ExperimentalWarning (the module uses it as documented). */
function wasiClass() {
  if (WASI !== null) return WASI;
  const emit = process.emitWarning;
  process.emitWarning = function quiet(w, ...rest) {
    const text = typeof w === 'string' ? w : w && w.message;
    if (typeof text === 'string' && text.startsWith('WASI is an experimental')) return undefined;
    return emit.call(this, w, ...rest);
  };
  try {
    ({ WASI } = require('node:wasi'));
  } finally {
    process.emitWarning = emit;
  }
  return WASI;
}

let compiled = null; // { module, file } or { error }

/** Where the module file is, and why: the first that exists. */
function modulePath() {
  const pkg = path.resolve(__dirname, '..', '..');
  const repo = path.resolve(pkg, '..', '..');
  const tried = process.env.PULSAR_PRODUCER_WASM ? [[path.resolve(process.env.PULSAR_PRODUCER_WASM), 'PULSAR_PRODUCER_WASM']] : [
    [path.join(pkg, 'wasm', 'pulsar_producer.wasm'), 'package'],
    ...(fs.existsSync(path.join(repo, 'wasm', 'ABI.md')) ? [[path.join(repo, 'build', 'wasm', 'pulsar_producer.wasm'), 'repository build']] : []),
  ];
  return tried.find(([p]) => fs.existsSync(p)) || [null, tried.map(([p, why]) => `  ${p} (${why})`).join('\n')];
}

/** The compiled module, or throws an Error that names the file and what is wrong with it. */
function load() {
  if (compiled === null) {
    const [file, why] = modulePath();
    try {
      if (file === null) throw new Error(`cannot find pulsar_producer.wasm; looked in:\n${why}\nBuild it with \`make wasm\` in the repository, or set PULSAR_PRODUCER_WASM to its path.`);
      let bytes;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new Error(`cannot read ${file} (${why}): ${e.message}`);
      }
      let module;
      try {
        module = new WebAssembly.Module(bytes);
      } catch (e) {
        throw new Error(`${file} (${why}) is not a valid WebAssembly module: ${e.message}`);
      }
      const names = new Set(WebAssembly.Module.exports(module).map((x) => x.name));
      const missing = ['_initialize', 'ppw_abi_version', 'ppw_status', 'ppw_alloc', 'ppw_send_payloads', 'memory'].filter((n) => !names.has(n));
      if (missing.length > 0) throw new Error(`${file} (${why}) is not pulsar_producer.wasm: it lacks the exports ${missing.join(', ')}`);
      compiled = { module, file };
    } catch (e) {
      compiled = { error: e };
    }
  }
  if (compiled.error) throw new Error(`pulsar-producer (wasi backend): ${compiled.error.message}`);
  return compiled;
}

/** Unix time in nanoseconds, never earlier than a previous reading (performance.now() is monotonic). */
const origin = performance.timeOrigin;
function nowNs() {
  return BigInt(Math.round((origin + performance.now()) * 1e6));
}

class TrapError extends Error {}

/** A block of module memory from ppw_alloc. */
class Block {
  constructor(inst, size) {
    this.inst = inst;
    this.size = 0;
    this.ptr = 0;
    this.reserve(size);
  }

  /** Makes the block at least n bytes (its contents are not kept). */
  reserve(n) {
    if (n <= this.size) return;
    const size = Math.max(n, this.size * 2, 64);
    if (this.ptr !== 0) this.inst.x.ppw_free(this.ptr);
    this.ptr = 0;
    const ptr = this.inst.x.ppw_alloc(size);
    if (ptr === 0) throw this.inst.failure(`ppw_alloc(${size})`);
    this.ptr = ptr;
    this.size = size;
  }
}

class Instance {
  constructor() {
    const { module, file } = load();
    this.file = file;
    const W = wasiClass();
    const wasi = new W({ version: 'preview1', args: [], env: {}, returnOnExit: true });
    try {
      this.instance = new WebAssembly.Instance(module, wasi.getImportObject());
      wasi.initialize(this.instance);
    } catch (e) {
      throw new Error(`pulsar-producer (wasi backend): cannot start ${file}: ${e.message}`);
    }
    this.x = this.instance.exports;
    const v = this.x.ppw_abi_version();
    if (v !== ABI_VERSION) {
      throw new Error(`pulsar-producer (wasi backend): ${file} has ABI version ${v}, this package needs ${ABI_VERSION}; rebuild it (make wasm) or point PULSAR_PRODUCER_WASM at a matching one`);
    }
    this.broken = null; // the TrapError once the module failed
    this.statusAt = this.x.ppw_status();
    this.buffer = null;
    this.views();
    this.input = new Block(this, 64 << 10); // strings, payloads, metadata
    this.extra = new Block(this, 16 << 10); // lens and tokens of ppw_send_payloads; a second string
    this.output = new Block(this, 256 << 10);
    this.events = new Block(this, 256 << 10);
    this.errText = new Block(this, 4096);
  }

  /** Re-derives the views of memory (it may have grown during any call). */
  views() {
    const buf = this.x.memory.buffer;
    if (buf === this.buffer) return;
    this.buffer = buf;
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
  }

  /** Calls an export; a trap breaks the instance and throws its TrapError. */
  call(name, ...args) {
    if (this.broken) throw this.broken;
    let rc;
    try {
      rc = this.x[name](...args);
    } catch (e) {
      this.broken = new TrapError(`the WebAssembly module failed in ${name}: ${e && e.message ? e.message : String(e)}`);
      this.broken.cause = e;
      throw this.broken;
    }
    this.views();
    return rc;
  }

  /** The code of a failed call with ppw_last_error's text, as { code, message }. */
  failure(what) {
    const code = this.dv.getInt32(this.statusAt + STATUS.code, true);
    let n = this.x.ppw_last_error(this.errText.ptr, this.errText.size);
    this.views();
    if (n > this.errText.size) n = this.errText.size;
    const message = n > 0 ? Buffer.from(this.u8.subarray(this.errText.ptr, this.errText.ptr + n)).toString('utf8') : `${what} failed`;
    return { code: code === codes.Ok ? codes.UnknownError : code, message };
  }

  status(field) { return this.dv.getUint32(this.statusAt + STATUS[field], true); }

  deadline() { return this.dv.getBigInt64(this.statusAt + STATUS.deadline, true); }

  result(i) { return Number(this.dv.getBigUint64(this.statusAt + (i === 0 ? STATUS.result0 : STATUS.result1), true)); }

  /** Copies bytes (a Uint8Array) into a block at offset `at`, growing it; returns the address. */
  put(block, bytes, at = 0) {
    if (at + bytes.length > block.size) block.reserve(at + bytes.length);
    this.views();
    this.u8.set(bytes, block.ptr + at);
    return block.ptr + at;
  }

  /** A string's UTF-8 bytes in a block: [ptr, len]. */
  putString(block, s) {
    const b = Buffer.from(s, 'utf8');
    return [b.length > 0 ? this.put(block, b) : block.ptr, b.length];
  }

  /** Calls a ppw_* export that returns a code; on failure returns { code, message }, else null. */
  check(name, ...args) {
    const rc = this.call(name, ...args);
    return rc === codes.Ok ? null : this.failure(name);
  }

  /** Calls name(block.ptr, block.size), growing the block while the module says BufferTooSmall (nothing is lost then). */
  callGrowing(name, block) {
    for (;;) {
      const rc = this.call(name, block.ptr, block.size);
      if (rc !== codes.BufferTooSmall) return rc;
      block.reserve(this.result(1));
    }
  }

  /** Takes one connection's output: [conn, Buffer] (copied out), or null. */
  takeOutput() {
    if (this.callGrowing('ppw_take_output', this.output) !== codes.Ok) return null;
    const n = this.result(1);
    return n === 0 ? null : [this.result(0), Buffer.from(this.u8.subarray(this.output.ptr, this.output.ptr + n))];
  }

  /** Takes waiting event records: the number written (their bytes are at events.ptr), 0 for none. */
  nextEvents() {
    return this.callGrowing('ppw_next_events', this.events) === codes.Ok ? this.result(0) : 0;
  }

  /** The stats record of a producer (id) or, for id null, the client: a Float64Array of its fields, or null. */
  stats(id) {
    const size = id === null ? 256 : 232;
    const rc = id === null ? this.call('ppw_client_stats', this.output.ptr, this.output.size)
      : this.call('ppw_producer_stats', BigInt(id), this.output.ptr, this.output.size);
    if (rc !== codes.Ok) return null;
    return this.readStats(this.output.ptr, size);
  }

  /** The fields of a stats record at addr as numbers. */
  readStats(addr, size) {
    const out = new Float64Array(size / 8);
    for (let i = 0; i < out.length; i++) out[i] = Number(this.dv.getBigInt64(addr + i * 8, true));
    return out;
  }
}

module.exports = { Instance, TrapError, nowNs, load, modulePath, ABI_VERSION };

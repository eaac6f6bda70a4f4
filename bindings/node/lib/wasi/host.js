'use strict';
// wasi/host.js: the runtime around one module instance (one client), as
// wasm/ABI.md describes a host: it owns the sockets (node:net, node:tls),
// the clock and the one timer, and runs the drive loop after every call.
//
// How this works. Every call into the module is synchronous and is
// followed by drive(): while the status block says events wait, records are
// taken and acted on (Connect opens a socket; ConnClosed closes one;
// Receipt and SendFailed become completion rows; ProducerReady, Failed and
// Closed settle the producer's waiters; Log records are queued; an
// AuthChallenge fetches fresh credentials); while output waits, it is
// written to its socket; and the timer is re-armed if the deadline moved.
// JavaScript is single-threaded, so a call never overlaps another; socket
// callbacks, the timer and user calls all take turns on the event loop.
//
// Completions are rows in the layout of the C ABI's pp_completion (the rows
// the koffi backend drains), queued here until the client drains them, and
// the client is told with notify(); so client.js settles both backends'
// promises with one loop. An error's text stays in `errors` until the row
// holding it was drained and settled.
//
// Credentials come before each connection's handshake and for each broker
// challenge (credentials.js); a failure closes that connection, and the
// module reconnects with backoff. Sockets and the timer never hold the
// event loop: the client's watch handle does while messages are in flight,
// and waits of creation and close hold it with their own timers.
//
// If the module traps, nothing it held will be reported: the host closes
// its sockets, fails every producer being created or open, and from then
// on every call fails with the trap's error; draining ends with it, which
// fails every message the client handed over (client.js).
const net = require('node:net');
const tls = require('node:tls');
const { Instance, TrapError, nowNs } = require('./module');
const { credentialSource, tlsOptions } = require('./credentials');
const { resultInfo } = require('../errors');

// Event kinds (ABI.md).
const K = { connect: 1, connClosed: 2, receipt: 3, sendFailed: 4, ready: 5, failed: 6, closed: 7, log: 8, challenge: 9 };
const ROW = 80; // pp_completion: producer 0, user_data 8, result 16, id 24 (ledger 24, entry 32, partition 40,
// batch index 44, batch size 48, flags 52, first chunk ledger 56, entry 64), error 72
const ID_DUPLICATE = 1; // pp_message_id flags
const ID_CHUNKED = 2;
const LEVELS = ['warn', 'error', 'info', 'debug']; // a Log record's level field
const FOREVER = 2 ** 31 - 1;

class Host {
  /**
   * Creates the instance and its client. `url` and `json` as for
   * ppw_client_new; `options` the parsed client options (TLS, credentials,
   * timeouts). Throws { code, message } for the module's refusals.
   */
  constructor(url, json, options, codes) {
    this.codes = codes;
    this.options = options;
    // The TLS files are read (and checked) now; they also serve the OAuth2 issuer of a pulsar:// client.
    const useTLS = /^pulsar\+ssl:\/\//i.test(url);
    const tlsConf = useTLS || options.tlsTrustCertsFilePath || options.tlsCertificateFilePath ? tlsOptions(options, codes) : null;
    this.tls = useTLS ? tlsConf : null;
    this.credentials = credentialSource(options, tlsConf, codes, (message) => this.logOwn('warn', message));
    this.in = new Instance();
    const [uptr, ulen] = this.in.putString(this.in.input, url);
    const [optr, olen] = this.in.putString(this.in.extra, json);
    const seed = BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 52)) * 4099n);
    const f = this.in.check('ppw_client_new', uptr, ulen, optr, olen, nowNs(), seed, 0);
    if (f) throw f;
    this.conns = new Map(); // conn ID -> { sock, addr, open, closed }
    this.producers = new Map(); // producer ID -> { state, name, partitions, error, stats, waiters }
    this.rows = Buffer.alloc(64 * ROW);
    this.count = 0; // rows queued
    this.errors = new Map(); // error ID (in a row's error field) -> text
    this.errorSeq = 0;
    this.settledUpTo = 0; // error IDs up to this one are no longer needed
    this.logs = [];
    this.timer = null;
    this.timerAt = -1n;
    this.closed = false;
    this.stopped = false;
    this.failedAll = false; // the module trapped and everything it held was failed
    this.notify = () => {}; // set by the backend: completions or logs wait
    if (options.tlsAllowInsecureConnection && this.tls !== null) {
      this.logOwn('warn', 'tlsAllowInsecureConnection is set: broker certificates are not verified, so the connection can be intercepted');
    }
  }

  get broken() { return this.in.broken; }

  // ---- calls -----------------------------------------------------------------

  /** Calls an export that returns a code, then drives; returns null or { code, message }. */
  call(name, ...args) {
    try {
      const f = this.in.check(name, ...args);
      this.drive();
      return f;
    } catch (e) {
      return this.trapped(e);
    }
  }

  /** A trap in any call: fail everything this host holds; the error for the call. */
  trapped(e) {
    if (!(e instanceof TrapError)) throw e;
    if (!this.failedAll) {
      this.failedAll = true;
      for (const c of this.conns.values()) this.shut(c);
      this.conns.clear();
      clearTimeout(this.timer);
      for (const p of this.producers.values()) this.settleProducer(p, 'failed', this.codes.UnknownError, e.message);
      this.logOwn('error', `${e.message}: the client has failed; every message in flight fails with this error`);
      this.notify();
    }
    return { code: this.codes.UnknownError, message: e.message };
  }

  // ---- the drive loop ------------------------------------------------------

  drive() {
    const inst = this.in;
    for (;;) {
      if (inst.status('events') > 0) {
        const n = inst.nextEvents();
        if (n > 0) this.records(n);
        continue;
      }
      if (inst.status('output') === 1) {
        const out = inst.takeOutput();
        if (out !== null) this.write(out[0], out[1]);
        continue;
      }
      break;
    }
    const at = inst.deadline();
    if (at !== this.timerAt) this.arm(at);
  }

  arm(at) {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = null;
    if (at < 0n || this.stopped) return;
    const ms = Math.max(0, Math.min(FOREVER, Number((at - nowNs()) / 1000000n) + 1));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = -1n;
      this.call('ppw_tick', nowNs());
    }, ms);
    this.timer.unref();
  }

  /** Acts on n event records at the events block. */
  records(n) {
    const inst = this.in;
    let at = inst.events.ptr;
    for (let i = 0; i < n; i++) {
      const dv = inst.dv;
      const size = dv.getUint32(at, true);
      const kind = dv.getUint8(at + 4);
      const code = dv.getInt32(at + 8, true);
      const textLen = dv.getUint32(at + 12, true);
      const conn = Number(dv.getBigUint64(at + 16, true));
      const producer = Number(dv.getBigUint64(at + 24, true));
      const tokens = dv.getUint32(at + 32, true);
      const extraLen = dv.getUint32(at + 36, true);
      const extraAt = at + 72 + 8 * tokens;
      const textAt = extraAt + extraLen;
      const text = () => Buffer.from(inst.u8.subarray(textAt, textAt + textLen)).toString('utf8');
      switch (kind) {
        case K.connect: this.connect(conn, text()); break;
        case K.connClosed: {
          const c = this.conns.get(conn);
          if (c) {
            this.conns.delete(conn);
            this.shut(c);
          }
          break;
        }
        case K.receipt:
        case K.sendFailed:
          this.complete(at, kind, code, producer, tokens, extraAt, extraLen, kind === K.sendFailed ? text() : null);
          break;
        case K.ready: {
          const p = this.producers.get(producer);
          if (p) {
            p.name = text();
            p.partitions = dv.getInt32(at + 68, true);
            this.settleProducer(p, 'ready', 0, null);
          }
          break;
        }
        case K.failed:
        case K.closed: {
          const p = this.producers.get(producer);
          if (p) {
            if (extraLen >= 232) p.stats = inst.readStats(extraAt, 232);
            this.settleProducer(p, kind === K.failed ? 'failed' : 'closed', code, kind === K.failed ? text() : null);
          }
          break;
        }
        case K.log: this.log(dv, conn, extraAt, text()); break;
        case K.challenge: this.challenge(conn); break;
        default: break; // a kind this host does not know: skipped by its size
      }
      at += size;
    }
  }

  /** Queues one completion row per token of a Receipt or SendFailed record. */
  complete(at, kind, code, producer, tokens, extraAt, extraLen, text) {
    const dv = this.in.dv;
    if (this.count + tokens > this.rows.length / ROW) {
      const grown = Buffer.alloc(Math.max(this.rows.length * 2, (this.count + tokens) * ROW));
      this.rows.copy(grown, 0, 0, this.count * ROW);
      this.rows = grown;
    }
    const rows = this.rows;
    const p = this.producers.get(producer);
    const handle = p ? p.handle : 0; // the rows name the backend's handle, as the library's name its own
    let errorId = 0;
    if (text !== null) {
      errorId = ++this.errorSeq;
      this.errors.set(errorId, text);
    }
    const chunked = kind === K.receipt && (dv.getUint8(at + 5) & 1) !== 0 && extraLen >= 16;
    // A resend the broker had stored already has ID -1:-1: flagged, as the library flags it.
    const duplicate = kind === K.receipt && dv.getBigInt64(at + 40, true) === -1n && dv.getBigInt64(at + 48, true) === -1n;
    const flags = (chunked ? ID_CHUNKED : 0) | (duplicate ? ID_DUPLICATE : 0);
    const batchIndex = dv.getInt32(at + 60, true);
    for (let i = 0; i < tokens; i++) {
      const r = this.count++ * ROW;
      rows.fill(0, r, r + ROW);
      rows.writeUInt32LE(handle >>> 0, r);
      rows.writeUInt32LE(Math.floor(handle / 4294967296), r + 4);
      rows.writeUInt32LE(dv.getUint32(at + 72 + 8 * i, true), r + 8);
      rows.writeUInt32LE(dv.getUint32(at + 76 + 8 * i, true), r + 12);
      if (kind === K.sendFailed) {
        rows.writeInt32LE(code === this.codes.Ok ? this.codes.UnknownError : code, r + 16);
        rows.writeUInt32LE(errorId, r + 72);
        continue;
      }
      for (let k = 0; k < 16; k += 4) rows.writeUInt32LE(dv.getUint32(at + 40 + k, true), r + 24 + k); // ledger, entry
      rows.writeInt32LE(dv.getInt32(at + 56, true), r + 40); // partition
      rows.writeInt32LE(batchIndex < 0 ? -1 : batchIndex + i, r + 44);
      rows.writeInt32LE(dv.getInt32(at + 64, true), r + 48); // batch size
      rows.writeInt32LE(flags, r + 52);
      if (chunked) {
        for (let k = 0; k < 16; k += 4) rows.writeUInt32LE(dv.getUint32(extraAt + k, true), r + 56 + k);
      }
    }
    if (tokens > 0) this.notify();
  }

  /** Moves up to `capacity` rows into `out`; returns how many. */
  drain(out, capacity) {
    while (this.errors.size > 0) { // the rows drained last time were settled meanwhile
      const first = this.errors.keys().next().value;
      if (first > this.settledUpTo) break;
      this.errors.delete(first);
    }
    const n = Math.min(capacity, this.count);
    if (n === 0) return 0;
    this.rows.copy(out, 0, 0, n * ROW);
    this.rows.copyWithin(0, n * ROW, this.count * ROW);
    this.count -= n;
    for (let i = 0; i < n; i++) {
      const id = out.readUInt32LE(i * ROW + 72);
      if (id > this.settledUpTo) this.settledUpTo = id;
    }
    return n;
  }

  // ---- producers -------------------------------------------------------------

  /** Settles a producer's state and wakes its waiters. */
  settleProducer(p, state, code, text) {
    if (p.state === 'closed' || (p.state === 'failed' && state !== 'closed')) return;
    p.state = state;
    if (state === 'failed') p.error = { code: code || this.codes.UnknownError, message: text || 'the producer failed' };
    const waiters = p.waiters;
    p.waiters = [];
    for (const w of waiters) w();
  }

  /** Closes producer id at once: its pending messages fail with code and message (ppw_producer_abort). */
  abort(id, code, message) {
    const [ptr, len] = this.in.putString(this.in.input, message);
    this.call('ppw_producer_abort', BigInt(id), code, ptr, len, nowNs());
  }

  /** Resolves once producer id leaves state `from` (or after ms; a ref'd timer holds the event loop meanwhile). */
  waitFor(id, from, ms) {
    const p = this.producers.get(id);
    if (!p || p.state !== from) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, FOREVER));
      function done() {
        clearTimeout(timer);
        const i = p.waiters.indexOf(done);
        if (i >= 0) p.waiters.splice(i, 1);
        resolve();
      }
      p.waiters.push(done);
    });
  }

  // ---- sockets ---------------------------------------------------------------

  connect(id, addr) {
    const c = { id, addr, sock: null, open: false, closed: false, cause: null };
    this.conns.set(id, c);
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(addr.slice(i + 1));
    const timeoutMs = Number(this.options.connectionTimeout ?? 10000);
    const sock = this.tls === null ? net.connect({ host, port })
      : tls.connect({ host, port, ...this.tls, servername: net.isIP(host) ? undefined : host });
    c.sock = sock;
    sock.unref();
    sock.setNoDelay(true);
    const limit = setTimeout(() => sock.destroy(new Error(`no connection to ${addr} within ${timeoutMs - Math.floor(timeoutMs / 10)} ms`)),
      timeoutMs - Math.floor(timeoutMs / 10));
    limit.unref();
    sock.once(this.tls === null ? 'connect' : 'secureConnect', () => {
      this.opened(c).finally(() => clearTimeout(limit));
    });
    sock.on('data', (chunk) => {
      if (c.closed || this.stopped) return;
      const [ptr, len] = [this.in.put(this.in.input, chunk), chunk.length];
      this.call('ppw_receive', BigInt(id), ptr, len, nowNs());
    });
    sock.on('error', (e) => { c.cause = c.cause || e; });
    sock.on('close', () => {
      clearTimeout(limit);
      if (c.closed || this.stopped) return;
      c.closed = true;
      this.conns.delete(id);
      const cause = c.cause ? this.socketError(addr, c.cause) : '';
      const [ptr, len] = this.in.putString(this.in.input, cause || (c.open ? '' : `${addr} closed the connection`));
      this.call(c.open ? 'ppw_conn_closed' : 'ppw_conn_failed', BigInt(id), ptr, len, nowNs());
    });
  }

  /** The socket is up (TLS done): fresh credentials, then the handshake. */
  async opened(c) {
    let creds = null;
    if (this.credentials !== null) {
      try {
        creds = [this.credentials.method, await this.credentials.get()];
      } catch (e) {
        c.cause = e;
        c.sock.destroy();
        return;
      }
    }
    if (c.closed || this.stopped) return;
    if (creds !== null && this.setCredentials('ppw_set_credentials', null, creds)) return;
    c.open = true;
    this.call('ppw_conn_opened', BigInt(c.id), nowNs());
  }

  /** Calls ppw_set_credentials or ppw_answer_challenge; true if the module refused (it then failed the call). */
  setCredentials(name, conn, [method, data]) {
    const [mptr, mlen] = this.in.putString(this.in.extra, method);
    const d = Buffer.from(data, 'utf8');
    const dptr = d.length > 0 ? this.in.put(this.in.input, d) : this.in.input.ptr;
    const f = conn === null ? this.call(name, mptr, mlen, dptr, d.length) : this.call(name, BigInt(conn), mptr, mlen, dptr, d.length, nowNs());
    this.in.u8.fill(0, dptr, dptr + d.length); // no copy of the secret stays in the block
    return f !== null;
  }

  async challenge(id) {
    let creds;
    try {
      creds = this.credentials === null ? ['', ''] : [this.credentials.method, await this.credentials.get()];
    } catch (e) {
      this.logOwn('error', `no fresh credentials for the broker's challenge: ${e.message}`);
      const c = this.conns.get(id);
      if (c) c.sock.destroy(e);
      return;
    }
    if (!this.stopped) this.setCredentials('ppw_answer_challenge', id, creds);
  }

  /** What a socket error means, as the native backend words it. */
  socketError(addr, e) {
    if (e.pulsarCode !== undefined) return `${resultInfo(e.pulsarCode).name}: ${e.message}`; // the code goes with it (ABI.md)
    const code = e.code || '';
    if (/^ERR_SSL_WRONG_VERSION_NUMBER$|^ERR_SSL_PACKET_LENGTH_TOO_LONG$/.test(code)) {
      return `${addr} did not answer in TLS: the port is probably a plaintext one; use a pulsar:// service URL, or the broker's TLS port`;
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS with ${addr}: ${e.message} (set tlsValidateHostname to false to accept it)`;
    if (/UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(code)) {
      return `TLS with ${addr}: the broker's certificate is signed by an authority this client does not trust (set tlsTrustCertsFilePath): ${e.message}`;
    }
    return `${addr}: ${e.message}`;
  }

  write(id, bytes) {
    const c = this.conns.get(id);
    if (c && c.sock && !c.closed) c.sock.write(bytes);
  }

  shut(c) {
    c.closed = true;
    if (c.sock) c.sock.destroy();
  }

  // ---- logs --------------------------------------------------------------------

  log(dv, conn, at, message) {
    const level = LEVELS[dv.getUint32(at, true)] || 'warn';
    const lens = [dv.getUint32(at + 4, true), dv.getUint32(at + 8, true), dv.getUint32(at + 12, true)];
    let p = at + 16;
    const [topic, producerName, broker] = lens.map((n) => {
      const s = Buffer.from(this.in.u8.subarray(p, p + n)).toString('utf8');
      p += n;
      return s;
    });
    this.queueLog({ level, time: new Date(), message, topic, producerName, broker, connection: conn });
  }

  logOwn(level, message) {
    this.queueLog({ level, time: new Date(), message, topic: '', producerName: '', broker: '', connection: 0 });
  }

  queueLog(r) {
    if (this.logs.length >= 256) this.logs.shift(); // bounded, as the library's log queue is
    this.logs.push(r);
    this.notify();
  }

  // ---- the end -------------------------------------------------------------------

  /** Forgets the instance: sockets closed, the timer stopped. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    for (const c of this.conns.values()) this.shut(c);
    this.conns.clear();
    for (const p of this.producers.values()) this.settleProducer(p, 'closed', 0, null);
  }
}

module.exports = { Host, ROW };

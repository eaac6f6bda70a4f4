'use strict';
// auth.js: the `auth` client option: a token string, or a function that
// returns the token, called again for every new connection and every time
// a broker asks for fresh credentials.
//
// A string is simply the library's authToken option. A function becomes
// the client's token supplier (pp_client_set_token_provider). The library
// calls its supplier on one of its own threads; the supplier here is one
// callback registered with koffi.register, and koffi forwards a call that
// arrives on a thread other than JavaScript's to the main thread (through a
// thread-safe function) while the library's thread waits for the answer.
// So the user's function runs as ordinary JavaScript on the event loop, and
// must return the token synchronously. That wait is safe because no call
// the package makes on the main thread waits for a connection: creation,
// flush and close run on libuv threads, so the event loop is free to answer.
//
// One callback serves every client (the client's handle is its user_data)
// and is never unregistered: a late call for a client already stopped
// finds no function and fails, instead of jumping into freed code.
const native = require('./native');
const { makeError, codes } = require('./errors');
const { checkedToken } = require('./token');

const { koffi } = native;
const suppliers = new Map(); // client handle -> { fn, failed(error) }
let callback = null; // the registered pp_token_cb, made on first use

/** The token for buf (size bytes) of the library, with its length at lenPtr: a pp_result. */
function supply(ud, buf, size, lenPtr) {
  const s = suppliers.get(Number(ud));
  if (s === undefined) return codes.AuthenticationError; // the client was stopped
  let token;
  try {
    token = checkedToken(s.fn());
  } catch (e) {
    s.failed(e);
    return codes.AuthenticationError;
  }
  const bytes = Buffer.from(token);
  koffi.encode(lenPtr, 'size_t', bytes.length);
  if (bytes.length > size) return codes.BufferTooSmall; // the library calls again with room for it
  new Uint8Array(koffi.view(buf, bytes.length)).set(bytes);
  return codes.Ok;
}

/** Makes fn the token supplier of client h; failed(error) hears every exception of fn. Throws the library's refusal. */
function install(h, fn, failed) {
  if (callback === null) {
    callback = koffi.register(supply, koffi.pointer(native.TokenCbT));
  }
  suppliers.set(h, { fn, failed });
  const err = Buffer.alloc(512);
  const rc = native.fn.setTokenProvider(h, callback, h, err, err.length);
  if (rc !== codes.Ok) {
    suppliers.delete(h);
    const n = err.indexOf(0);
    throw makeError(rc, err.toString('utf8', 0, n < 0 ? err.length : n));
  }
}

/** Forgets client h's supplier (it is stopped). */
function remove(h) {
  suppliers.delete(h);
}

module.exports = { install, remove };

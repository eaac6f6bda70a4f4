'use strict';
// hooks.js: the user's code a producer runs around a send, all of it in
// JavaScript on the main thread before the message is staged, so the
// library never calls into JavaScript for it:
//
//   - interceptors: beforeSend(message) on a copy of the message (its
//     properties a copy too), which it may change or reject by throwing;
//     onAck(message, id, error) with the outcome of every message all
//     beforeSends accepted, just before its promise settles;
//   - the router: router(message, numPartitions) on a partitioned topic,
//     after the interceptors; its answer goes to the library as
//     pp_message.partition, which checks it against the partition count
//     (out of range fails that message with InvalidArgument).
//
// Errors name the hook and carry the exception as `cause`.
const { makeError, codes } = require('./errors');
const { typeName } = require('./options');


function badConfig(message) {
  return makeError(codes.InvalidConfiguration, message);
}

function withCause(e, cause) {
  e.cause = cause;
  return e;
}

const describe = (e) => (e instanceof Error ? e.message : String(e));

/** The router option: a function, or undefined. */
function checkRouter(v) {
  if (v === undefined || typeof v === 'function') return v;
  throw badConfig(`option "router" must be a function (message, numPartitions) => partition, got ${typeName(v)}`);
}

/** The interceptors option: an array of objects with beforeSend and/or onAck; null for none. */
function checkInterceptors(v) {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw badConfig(`option "interceptors" must be an array of interceptors, got ${typeName(v)}`);
  v.forEach((ic, i) => {
    if (ic === null || typeof ic !== 'object') throw badConfig(`option "interceptors": interceptors[${i}] must be an object, got ${typeName(ic)}`);
    for (const m of ['beforeSend', 'onAck']) {
      if (ic[m] !== undefined && typeof ic[m] !== 'function') {
        throw badConfig(`option "interceptors": interceptors[${i}].${m} must be a function, got ${typeName(ic[m])}`);
      }
    }
    if (ic.beforeSend === undefined && ic.onAck === undefined) {
      throw badConfig(`option "interceptors": interceptors[${i}] has neither beforeSend nor onAck`);
    }
  });
  return v.length > 0 ? [...v] : null;
}

function label(ic, i) {
  const name = ic.constructor && ic.constructor !== Object ? ic.constructor.name : '';
  return `interceptors[${i}]${name ? ` (${name})` : ''}`;
}

/** Runs every beforeSend on msg; a throw rejects the message with InvalidMessage naming the interceptor. */
function beforeSend(interceptors, msg) {
  interceptors.forEach((ic, i) => {
    if (ic.beforeSend === undefined) return;
    try {
      ic.beforeSend(msg);
    } catch (e) {
      throw withCause(makeError(codes.InvalidMessage, `${label(ic, i)} rejected the message in beforeSend: ${describe(e)}`), e);
    }
  });
}

/** Runs every onAck; a throw is reported (report(text)) and does not stop the others or the send's promise. */
function onAck(interceptors, msg, id, err, report) {
  interceptors.forEach((ic, i) => {
    if (ic.onAck === undefined) return;
    try {
      ic.onAck(msg, id, err);
    } catch (e) {
      report(`${label(ic, i)} threw in onAck: ${describe(e)}`);
    }
  });
}

/** The router's partition for msg among n; a throw or a non-index fails the message with InvalidArgument. */
function route(router, msg, n) {
  let i;
  try {
    i = router(msg, n);
  } catch (e) {
    throw withCause(makeError(codes.InvalidArgument, `the router threw: ${describe(e)}`), e);
  }
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    const got = typeof i === 'number' ? String(i) : typeName(i);
    throw makeError(codes.InvalidArgument, `the router returned ${got}, not a partition index (0 to ${n - 1})`);
  }
  return i;
}

module.exports = { checkRouter, checkInterceptors, beforeSend, onAck, route };

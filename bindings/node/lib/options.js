'use strict';
// options.js: checks options against the library's own option table
// (pp_options_json: names, scopes, types, ranges) before anything is
// started, so that errors name the option as Node spells it, and writes
// them as the JSON the library reads (bigints as exact integers).
const { makeError, codes } = require('./errors');

// The option table as pp_options_json() gives it, generated (capi/gen_test.go).
const table = new Map(require('./tables.json').options.map((o) => [o.name, o]));
// Options of this package's own (not the library's), with their scopes.
const OWN = { auth: 'client', router: 'producer', interceptors: 'producer' };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function bad(message) {
  return makeError(codes.InvalidConfiguration, message);
}

function typeName(v) {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v.constructor && v.constructor.name) || 'object';
  return `a ${typeof v}`;
}

/**
 * Checks an integer-valued number or bigint within [min, max] and the signed
 * 64-bit range: returns it, or throws fail(reason), reason being "is not a
 * finite number", "must be an integer" or "is out of range".
 */
function int64(v, fail, min = -Infinity, max = Infinity) {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw fail('is not a finite number');
    if (!Number.isInteger(v)) throw fail('must be an integer');
    if (!Number.isSafeInteger(v)) throw fail('is out of range of exact numbers (use a bigint)');
  } else if (typeof v !== 'bigint') {
    throw fail('must be a number or a bigint');
  } else if (v < INT64_MIN || v > INT64_MAX) {
    throw fail('is out of range');
  }
  if (v < min || v > max) throw fail('is out of range');
  return v;
}

function rangeText(o) {
  const max = o.max >= 2 ** 53 ? '2^63-1' : o.max;
  return `from ${o.min} to ${max}${o.negative ? `, or negative for ${o.negative}` : ''}${o.type === 'milliseconds' ? ' (ms)' : ''}`;
}

function checkValue(o, v) {
  const fail = (why) => bad(`option "${o.name}" ${why}, got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`);
  switch (o.type) {
    case 'string':
      if (typeof v !== 'string') throw fail('must be a string');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw fail('must be a boolean');
      return v;
    case 'enum':
      if (!o.values.includes(v)) throw fail(`must be one of ${o.values.join(', ')}`);
      return v;
    case 'schema': // checked by the library; object definitions become JSON text
      return require('./schema').schemaOption(v);
    case 'object':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('must be an object of strings');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw bad(`option "${o.name}": property "${k}" must be a string, got ${typeName(s)}`);
      }
      return v;
    default: { // integer, milliseconds
      const fail2 = (why) => bad(`option "${o.name}" ${why}: ${String(v)} (${rangeText(o)})`);
      const n = int64(v, typeof v === 'number' || typeof v === 'bigint' ? fail2 : fail);
      if (!(n >= o.min && n <= o.max) && !(o.negative && n < 0)) throw fail2('is out of range');
      return n;
    }
  }
}

/**
 * The library options among `given` for `scope` ("client" or "producer"),
 * checked, as a JSON object text. Keys in `own` are the API's own (such as
 * serviceUrl) and skipped; undefined values are left out. `where` names
 * the call for errors; `other` says where the other scope's options go.
 */
function optionsJson(given, scope, own, where, other) {
  const out = {};
  for (const name of Object.keys(given)) {
    const v = given[name];
    if (own.includes(name) || v === undefined) continue;
    const o = table.get(name) || (OWN[name] && { scope: OWN[name] });
    if (!o) throw bad(`option "${name}" is unknown (${where})`);
    if (scope && o.scope !== scope) throw bad(`option "${name}" is a ${o.scope} option: give it to ${other}, not ${where}`);
    out[name] = checkValue(o, v);
  }
  const big = [];
  const text = JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? `\0big${big.push(v) - 1}` : v));
  return text.replace(/"\\u0000big(\d+)"/g, (_, i) => String(big[Number(i)]));
}

/** The scope of a library option, or undefined. */
const scopeOf = (name) => table.get(name)?.scope;

module.exports = { optionsJson, scopeOf, int64, typeName };

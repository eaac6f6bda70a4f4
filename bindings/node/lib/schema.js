'use strict';
// schema.js: the `schema` producer option and the values sent with it.
//
// The option goes to the library as JSON (a type name, or an object whose
// definition may be given as an object and is then JSON.stringify'd); the
// library checks it and registers it. The producer keeps the types (and the
// halves of a KEY_VALUE schema) to turn a send's `value` into the JSON text
// of pp_message.value_json, which the library encodes by the schema in the
// Java client's byte formats (core/engine/schemavalue.go). Here only the
// JavaScript type is checked and converted: bytes become base64 text, a Date
// its ISO 8601 text, a bigint its digits, a JSON value JSON.stringify's text;
// ranges and text formats are checked by the library.
const { makeError, codes } = require('./errors');
const { typeName } = require('./options');

const BYTES_TYPES = new Set(['BYTES', 'AVRO', 'PROTOBUF', 'PROTOBUF_NATIVE']);
const INT_TYPES = new Set(['INT8', 'INT16', 'INT32', 'INT64']);
const MILLIS_TYPES = new Set(['DATE', 'TIME', 'TIMESTAMP']);
const LOCAL_FORMS = { LOCAL_DATE: "'2024-01-31'", LOCAL_TIME: "'13:45:30.123456789'", LOCAL_DATE_TIME: "'2024-01-31T13:45:30'" };

function badConfig(message) {
  return makeError(codes.InvalidConfiguration, message);
}

/** The schema option as the library reads it: object definitions (also of KEY_VALUE halves) as JSON text. */
function schemaOption(v, where = 'option "schema"') {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v; // a type name; anything else the library names
  const out = { ...v };
  if (out.definition !== undefined && typeof out.definition !== 'string') {
    try {
      out.definition = JSON.stringify(out.definition);
    } catch (e) {
      throw badConfig(`${where}: the definition cannot be written as JSON: ${e.message}`);
    }
    if (out.definition === undefined) throw badConfig(`${where}: the definition must be a string or an object, got ${typeName(v.definition)}`);
  }
  for (const half of ['key', 'value']) if (out[half] !== undefined) out[half] = schemaOption(out[half], `${where}.${half}`);
  return out;
}

/** What a producer needs of its schema to convert values: { type, key, value } (types upper case), or null for none. */
function schemaShape(v) {
  if (v === undefined || v === null) return null;
  const type = String(typeof v === 'string' ? v : v.type).toUpperCase();
  return {
    type,
    key: type === 'KEY_VALUE' ? schemaShape(v.key) : null,
    value: type === 'KEY_VALUE' ? schemaShape(v.value) : null,
  };
}

function bad(message, cause) {
  const e = makeError(codes.InvalidMessage, message);
  if (cause !== undefined) e.cause = cause;
  return e;
}

function isBytes(v) {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function base64(v) {
  if (v instanceof ArrayBuffer) return Buffer.from(v).toString('base64');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/** The ISO 8601 text of a valid Date. */
function isoDate(v, where) {
  if (Number.isNaN(v.getTime())) throw bad(`${where} is an invalid Date`);
  return JSON.stringify(v.toISOString());
}

/** An integer number or bigint as JSON digits (the library checks the schema's range). */
function integer(v, where, type) {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw bad(`${where} is not a finite number: ${v} (${type})`);
  if (!Number.isInteger(v)) throw bad(`${where} must be an integer for ${type}, got ${v}`);
  if (!Number.isSafeInteger(v)) throw bad(`${where} ${v} is beyond the exact integers of a number: pass a bigint (${type})`);
  return String(v);
}

/** The JSON text of value v for schema type `type`; `where` names it in errors ("the value", "the key"). */
function halfJson(type, v, where) {
  if (v === undefined || v === null) throw bad(`${where} is missing (${v === null ? 'null' : 'undefined'})`);
  const wrong = (want) => bad(`${where} must be ${want} for the ${type} schema, got ${typeName(v)}`);
  if (BYTES_TYPES.has(type)) {
    if (!isBytes(v)) throw wrong(`bytes (a Buffer, Uint8Array or ArrayBuffer${type === 'BYTES' ? '' : ' you encoded'})`);
    return JSON.stringify(base64(v));
  }
  if (INT_TYPES.has(type)) {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw wrong('a number or a bigint');
    return integer(v, where, type);
  }
  if (MILLIS_TYPES.has(type)) {
    if (v instanceof Date) return isoDate(v, where);
    if (typeof v === 'number' || typeof v === 'bigint') return integer(v, where, type);
    if (typeof v === 'string') return JSON.stringify(v);
    throw wrong('a Date, milliseconds since the epoch, or an RFC 3339 string');
  }
  switch (type) {
    case 'STRING':
      if (typeof v !== 'string') throw wrong('a string');
      return JSON.stringify(v);
    case 'BOOLEAN':
      if (typeof v !== 'boolean') throw wrong('a boolean');
      return String(v);
    case 'FLOAT':
    case 'DOUBLE':
      if (typeof v === 'bigint') return v.toString();
      if (typeof v !== 'number') throw wrong('a number');
      if (!Number.isFinite(v)) throw bad(`${where} is ${v}: only finite numbers can be sent as ${type} values`);
      return String(v);
    case 'INSTANT':
      if (v instanceof Date) return isoDate(v, where);
      if (typeof v === 'string') return JSON.stringify(v);
      throw wrong('a Date or an RFC 3339 string (for nanoseconds)');
    case 'LOCAL_DATE':
    case 'LOCAL_TIME':
    case 'LOCAL_DATE_TIME':
      if (typeof v !== 'string') throw wrong(`a string such as ${LOCAL_FORMS[type]} (a local time has no zone, so no Date)`);
      return JSON.stringify(v);
    case 'JSON': {
      let text;
      try {
        text = JSON.stringify(v);
      } catch (e) {
        throw bad(`${where} cannot be written as JSON: ${e.message}`, e);
      }
      if (text === undefined) throw bad(`${where} cannot be written as JSON: JSON.stringify gives nothing for ${typeName(v)}`);
      return text;
    }
    default: // an unknown type was refused when the producer was created
      throw bad(`${where}: the ${type} schema takes no values`);
  }
}

/** The value_json text of a send's value, by the producer's schema shape (null: BYTES). */
function valueJson(shape, v) {
  if (shape === null) return halfJson('BYTES', v, 'the value');
  if (shape.type !== 'KEY_VALUE') return halfJson(shape.type, v, 'the value');
  if (v === null || typeof v !== 'object' || isBytes(v) || Array.isArray(v)) {
    throw bad(`a KEY_VALUE value must be an object { key, value }, got ${typeName(v)}`);
  }
  for (const k of Object.keys(v)) if (k !== 'key' && k !== 'value') throw bad(`a KEY_VALUE value has only "key" and "value", not ${JSON.stringify(k)}`);
  const missing = ['key', 'value'].filter((k) => v[k] === undefined || v[k] === null);
  if (missing.length > 0) throw bad(`a KEY_VALUE value needs both its key and its value: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
  return `{"key":${halfJson(shape.key.type, v.key, 'the key')},"value":${halfJson(shape.value.type, v.value, 'the value')}}`;
}

module.exports = { schemaOption, schemaShape, valueJson };

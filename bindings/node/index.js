'use strict';
// pulsar-producer: an Apache Pulsar producer for Node.js, over the C ABI of
// libpulsar_producer (loaded with koffi). See README.md for the API and
// lib/producer.js for how sends, completions and the event loop interact.
//
// Loading this module loads the shared library and checks its version;
// it throws an Error saying what is missing or mismatched.
const native = require('./lib/native');
const { PulsarError, errors, Result, resultInfo, resultTable } = require('./lib/errors');
const { MessageId } = require('./lib/message-id');
const { Producer } = require('./lib/producer');

module.exports = {
  Producer,
  MessageId,
  PulsarError,
  errors,
  Result,
  resultInfo,
  resultTable,
  /** The version of this package. */
  version: native.PACKAGE_VERSION,
  /** The version of the loaded library, "major.minor.patch". */
  libraryVersion: native.version,
  /** The path of the loaded library. */
  libraryPath: native.file,
};

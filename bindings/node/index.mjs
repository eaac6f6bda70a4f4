// ESM entry of pulsar-producer: the CommonJS module's exports, by name.
import cjs from './index.js';

export const {
  Client, Producer, MessageId, PulsarError, AbortError, errors, Result, resultInfo, resultTable, defaultBackend,
  version, libraryVersion, libraryPath,
} = cjs;
export default cjs;

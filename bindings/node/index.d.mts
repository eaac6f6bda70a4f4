// Type declarations of the ESM entry (index.mjs): the same as index.d.ts.
import * as pulsarProducer from './index.js';

export * from './index.js';
export default pulsarProducer;

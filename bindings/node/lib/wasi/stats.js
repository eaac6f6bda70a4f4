'use strict';
// wasi/stats.js: the latency percentiles of a stats record's histogram, as
// the C ABI's pp_stats computes them from the same histogram
// (engine.Latency.Percentile): the upper bound of the bucket holding the
// q-th latency, or the largest latency seen when that is smaller.

// The buckets' upper bounds in microseconds (wasm/ABI.md, "Stats records").
const BOUNDS_US = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000, 2000000,
  5000000, 10000000, 30000000, 60000000];

/** { latencyCount, latencyP50Us, ..., latencyMaxUs } from 19 bucket counts and the largest latency in ns. */
function percentiles(counts, maxNs) {
  let total = 0;
  for (const c of counts) total += c;
  const maxUs = Math.trunc(maxNs / 1000);
  const at = (q) => {
    if (total === 0) return 0;
    const rank = Math.min(Math.max(Math.trunc(q * total + 0.999999), 1), total);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) return i < BOUNDS_US.length && BOUNDS_US[i] * 1000 < maxNs ? BOUNDS_US[i] : maxUs;
    }
    return maxUs;
  };
  return { latencyCount: total, latencyP50Us: at(0.5), latencyP95Us: at(0.95), latencyP99Us: at(0.99), latencyP999Us: at(0.999), latencyMaxUs: maxUs };
}

module.exports = { percentiles };

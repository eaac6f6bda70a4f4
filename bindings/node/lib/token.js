'use strict';
// token.js: the check of what an `auth` function returned, shared by the
// native backend's token supplier (auth.js) and the WASI host's
// (wasi/credentials.js), so that both refuse the same things in the same
// words.
const { typeName } = require('./options');

/** The token fn returned, trimmed; throws a TypeError saying what is wrong with it. */
function checkedToken(token) {
  if (token !== null && typeof token === 'object' && typeof token.then === 'function') {
    token.then(undefined, () => {}); // its outcome is not awaited
    throw new TypeError('it returned a Promise, but the token is needed at once: return a string (such as a token refreshed ahead of time)');
  }
  if (typeof token !== 'string' || token.trim() === '') throw new TypeError(`it returned ${typeof token === 'string' ? 'an empty string' : typeName(token)}, not a token`);
  return token;
}

module.exports = { checkedToken };

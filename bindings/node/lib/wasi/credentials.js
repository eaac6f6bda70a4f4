'use strict';
// wasi/credentials.js: the WASI host's TLS options and sources of
// credentials, from the client options, as the native runtime has them
// (internal/driver/tls.go and auth.go).
//
// TLS files are read once, when the client is created, so that a missing
// one is an error then, naming the option. Credentials are fetched before
// each connection's handshake and for each broker challenge: a literal
// token as is; a token file read again each time (a rotated file is picked
// up); the `auth` function called each time; OAuth2 client credentials
// exchanged at the issuer's token endpoint (found by OpenID discovery) and
// cached until shortly before they expire. Errors name the source, never
// the secret.
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const tls = require('node:tls');

const { checkedToken } = require('../token');

const REFRESH_MS = 30000; // a cached OAuth2 token is replaced this long before it expires

function configError(codes, option, message) {
  const e = new Error(`option ${option}: ${message}`);
  e.pulsarCode = codes.InvalidConfiguration;
  return e;
}

function authError(codes, message) {
  const e = new Error(message);
  e.pulsarCode = codes.AuthenticationError;
  return e;
}

/** node:tls connect options from the client options; throws naming an unreadable file. */
function tlsOptions(o, codes) {
  const read = (option, file) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw configError(codes, option, e.message);
    }
  };
  const opts = { minVersion: 'TLSv1.2' };
  if (o.tlsTrustCertsFilePath) {
    opts.ca = read('tlsTrustCertsFilePath', o.tlsTrustCertsFilePath);
    if (!opts.ca.includes('-----BEGIN CERTIFICATE-----')) throw configError(codes, 'tlsTrustCertsFilePath', `${o.tlsTrustCertsFilePath} holds no PEM certificate`);
  }
  if (o.tlsCertificateFilePath) {
    opts.cert = read('tlsCertificateFilePath', o.tlsCertificateFilePath);
    opts.key = read('tlsKeyFilePath', o.tlsKeyFilePath);
    try {
      tls.createSecureContext({ cert: opts.cert, key: opts.key });
    } catch (e) {
      throw configError(codes, 'tlsCertificateFilePath', `loading the client certificate ${o.tlsCertificateFilePath} with its key ${o.tlsKeyFilePath}: ${e.message}`);
    }
  }
  if (o.tlsAllowInsecureConnection) {
    opts.rejectUnauthorized = false;
  } else if (o.tlsValidateHostname === false) {
    opts.checkServerIdentity = () => undefined; // the chain is verified, not the name
  }
  return opts;
}

/** { method, get(): Promise<string> } for the options' credentials, or null for none. */
function credentialSource(o, tlsOpts, codes, warn) {
  if (o.authToken) return { method: 'token', get: async () => o.authToken.trim() };
  if (o.authTokenFile) {
    return {
      method: 'token',
      get: async () => {
        let t;
        try {
          t = (await fs.promises.readFile(o.authTokenFile, 'utf8')).trim();
        } catch (e) {
          throw authError(codes, `reading the token file (authTokenFile): ${e.message}`);
        }
        if (t === '') throw authError(codes, 'the token is empty');
        return t;
      },
    };
  }
  if (o.authOAuth2) return oauth2(o.authOAuth2, tlsOpts, codes, warn, Number(o.connectionTimeout ?? 10000));
  return null;
}

/** A source that calls fn (the `auth` option) for every token; failed(e) hears its exceptions. */
function functionSource(fn, codes, failed) {
  return {
    method: 'token',
    get: async () => {
      try {
        return checkedToken(fn()).trim();
      } catch (e) {
        failed(e); // the client names the exception in the creation's error
        throw authError(codes, 'the auth function gave no token');
      }
    },
  };
}

function oauth2(params, tlsOpts, codes, warn, timeoutMs) {
  const issuer = String(params.issuerUrl || '').replace(/\/$/, '');
  let endpoint = '';
  let token = '';
  let expires = 0;
  let inflight = null;

  const request = (method, url, form) => new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = form ? new URLSearchParams(form).toString() : null;
    const mod = u.protocol === 'https:' ? https : http;
    const headers = { accept: 'application/json' };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    // The client's TLS settings (trusted CAs, certificate, verification) serve the issuer too, as natively.
    const req = mod.request(u, { method, headers, ...tlsOpts, timeout: timeoutMs - Math.floor(timeoutMs / 10) }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const data = Buffer.concat(parts).toString('utf8');
        const where = `${u.origin}${u.pathname}`;
        if (res.statusCode !== 200) {
          let code = '';
          try {
            const e = JSON.parse(data).error;
            if (typeof e === 'string' && e.length < 100) code = ` (${e})`;
          } catch { /* no error code */ }
          reject(authError(codes, `OAuth2 request to ${where}: HTTP ${res.statusCode} ${res.statusMessage}${code}`));
          return;
        }
        try {
          resolve(JSON.parse(data));
        } catch (e) {
          reject(authError(codes, `OAuth2 request to ${where}: the answer is not JSON (${e.message})`));
        }
      });
      res.on('error', (e) => reject(authError(codes, `OAuth2 request to ${where}: reading the answer: ${e.message}`)));
    });
    req.on('timeout', () => req.destroy(authError(codes, `OAuth2 issuer ${issuer}: no answer before the connection timeout (connectionTimeout; request to ${u.origin}${u.pathname})`)));
    req.on('error', (e) => reject(e.pulsarCode !== undefined ? e : authError(codes, `OAuth2 issuer unreachable: ${method} ${u.origin}${u.pathname}: ${e.message}`)));
    req.end(body);
  });

  const clientCredentials = async () => {
    const ref = String(params.privateKey || '');
    let raw;
    if (ref.startsWith('data:')) {
      const comma = ref.indexOf(',');
      if (comma < 0) throw authError(codes, 'authOAuth2 privateKey: a data: URL without data');
      const meta = ref.slice(5, comma);
      raw = meta.endsWith(';base64') ? Buffer.from(ref.slice(comma + 1), 'base64').toString('utf8') : decodeURIComponent(ref.slice(comma + 1));
    } else {
      try {
        raw = await fs.promises.readFile(ref.replace(/^file:\/\//, ''), 'utf8');
      } catch (e) {
        throw authError(codes, `authOAuth2 privateKey: ${e.message}`);
      }
    }
    let c;
    try {
      c = JSON.parse(raw);
    } catch { /* refused below */ }
    if (!c || typeof c.client_id !== 'string' || !c.client_id || typeof c.client_secret !== 'string' || !c.client_secret) {
      throw authError(codes, 'authOAuth2 privateKey: not a JSON object with client_id and client_secret');
    }
    return [c.client_id, c.client_secret];
  };

  const fetchToken = async () => {
    if (endpoint === '') {
      const disc = await request('GET', `${issuer}/.well-known/openid-configuration`);
      if (!disc || typeof disc.token_endpoint !== 'string' || disc.token_endpoint === '') {
        throw authError(codes, `OAuth2 issuer ${issuer}: its OpenID configuration names no token_endpoint`);
      }
      endpoint = disc.token_endpoint;
    }
    const [id, secret] = await clientCredentials();
    const form = { grant_type: 'client_credentials', client_id: id, client_secret: secret };
    if (params.audience) form.audience = params.audience;
    if (params.scope) form.scope = params.scope;
    const start = Date.now();
    const tok = await request('POST', endpoint, form);
    if (!tok || typeof tok.access_token !== 'string' || tok.access_token === '') {
      throw authError(codes, `OAuth2 token endpoint ${endpoint} answered without an access_token`);
    }
    return [tok.access_token, start + (tok.expires_in > 0 ? tok.expires_in * 1000 : 3600000)];
  };

  return {
    method: 'token',
    get: async () => {
      if (token !== '' && expires - Date.now() > REFRESH_MS) return token;
      if (inflight === null) inflight = fetchToken().finally(() => { inflight = null; });
      try {
        [token, expires] = await inflight;
      } catch (e) {
        if (token !== '' && Date.now() < expires) {
          warn(`refreshing the OAuth2 token failed; the cached token, valid until ${new Date(expires).toISOString()}, is used meanwhile and the refresh is retried on the next connection or challenge: ${e.message}`);
          return token;
        }
        throw e;
      }
      return token;
    },
  };
}

module.exports = { tlsOptions, credentialSource, functionSource };

// Node's equivalent of curl --connect-to for the twin: every TCP or TLS connection to a
// HOST:PORT named in TWIN_CONNECT_TO ("HOST:PORT:TO_HOST:TO_PORT", comma-separated, empty
// HOST or PORT = any, first match wins) goes to TO_HOST:TO_PORT instead. The request keeps
// its real Host header, and TLS keeps the real name for SNI and certificate checks, so the
// SDK under test verifies the twin's certificate against NODE_EXTRA_CA_CERTS exactly as it
// would verify Azure's. Covers node:http/https agents and the built-in fetch (undici).
'use strict';

const net = require('node:net');
const tls = require('node:tls');
const http = require('node:http');

const rules = (process.env.TWIN_CONNECT_TO || '')
  .split(',')
  .filter(Boolean)
  .map((s) => {
    const p = s.split(':');
    if (p.length !== 4 || !p[2] || !/^\d+$/.test(p[3])) {
      throw new Error(`connect_to: bad TWIN_CONNECT_TO entry '${s}' (want HOST:PORT:TO_HOST:TO_PORT)`);
    }
    return { host: p[0].toLowerCase(), port: p[1], toHost: p[2], toPort: Number(p[3]) };
  });
if (rules.length === 0) {
  throw new Error('connect_to: TWIN_CONNECT_TO is empty');
}

const seen = [];

function lookup(host, port, defPort) {
  const h = String(host || '').toLowerCase();
  const pt = String(port || defPort);
  for (const r of rules) {
    if ((r.host === '' || r.host === h) && (r.port === '' || r.port === pt)) {
      return r;
    }
  }
  return null;
}

function remap(opts, defPort, isTls) {
  if (!opts || typeof opts !== 'object' || opts.socket || opts.path) {
    return opts;
  }
  const host = opts.host || opts.hostname || 'localhost';
  const r = lookup(host, opts.port, defPort);
  if (!r) {
    seen.push(`unmapped ${host}:${opts.port || defPort}`);
    return opts;
  }
  seen.push(`${host}:${opts.port || defPort} -> ${r.toHost}:${r.toPort}`);
  const o = Object.assign({}, opts, { host: r.toHost, port: r.toPort });
  delete o.hostname;
  if (isTls && !o.servername) {
    o.servername = host;
  }
  return o;
}

const origTls = tls.connect;
tls.connect = function patchedTlsConnect(...args) {
  if (args[0] && typeof args[0] === 'object') {
    args[0] = remap(args[0], 443, true);
  }
  return origTls.apply(this, args);
};

const origNet = net.createConnection;
function patchedNetConnect(...args) {
  if (args[0] && typeof args[0] === 'object' && !Array.isArray(args[0])) {
    args[0] = remap(args[0], 80, false);
  }
  return origNet.apply(this, args);
}
net.connect = patchedNetConnect;
net.createConnection = patchedNetConnect;
http.Agent.prototype.createConnection = patchedNetConnect;

module.exports = { seen };

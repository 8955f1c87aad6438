'use strict';

const http = require('node:http');

/** Start `server` on an ephemeral port of 127.0.0.1; resolves to the port. */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

function close(server) {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** One HTTP request; resolves to {status, headers, body, json}. */
function request(port, { method = 'GET', path = '/', headers = {}, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A logger that records entries instead of printing them. */
function memoryLogger() {
  const entries = [];
  const record = (level) => (msg, fields = {}) => entries.push({ level, msg, ...fields });
  return { entries, info: record('info'), warn: record('warn'), error: record('error') };
}

/** A stream-like sink that keeps what is written. */
function memoryStream() {
  const chunks = [];
  return { chunks, write: (s) => chunks.push(s), text: () => chunks.join('') };
}

module.exports = { listen, close, request, memoryLogger, memoryStream };

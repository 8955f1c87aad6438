'use strict';

// The sample service: an HTTP handler built on node:http only (no runtime dependencies).
// Everything here is testable without listening on a port; src/server.js is the entry point.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

// The directory that holds package.json (and release.json once the build wrote it).
const APP_ROOT = path.resolve(__dirname, '..');

/**
 * Logger writing one JSON object per line: {time, level, msg, ...fields}.
 * `stream` defaults to process.stdout; `clock` returns a Date (injectable for tests).
 */
function createLogger(stream = process.stdout, clock = () => new Date()) {
  const write = (level, msg, fields = {}) => {
    const line = { time: clock().toISOString(), level, msg, ...fields };
    stream.write(`${JSON.stringify(line)}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function nonEmptyString(value) {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Which version/commit this process serves.
 *  version: env APP_VERSION, else release.json's version, else package.json's version.
 *  commit:  release.json's commit, else env APP_COMMIT, else "unknown".
 * Returns {version, commit, source, warnings}; `source` names where the version came from.
 * A malformed release.json is reported in `warnings` and ignored.
 */
function resolveRelease({ env = process.env, appRoot = APP_ROOT } = {}) {
  const warnings = [];
  let release = {};
  const releaseFile = path.join(appRoot, 'release.json');
  if (fs.existsSync(releaseFile)) {
    try {
      const parsed = readJson(releaseFile);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        release = parsed;
      } else {
        warnings.push(`${releaseFile}: expected a JSON object, ignored`);
      }
    } catch (err) {
      warnings.push(`${releaseFile}: ${err.message}, ignored`);
    }
  }

  let version = nonEmptyString(env.APP_VERSION);
  let source = 'env';
  if (!version) {
    version = nonEmptyString(release.version);
    source = 'release.json';
  }
  if (!version) {
    source = 'package.json';
    try {
      version = nonEmptyString(readJson(path.join(appRoot, 'package.json')).version);
    } catch (err) {
      warnings.push(`${path.join(appRoot, 'package.json')}: ${err.message}`);
    }
  }
  if (!version) {
    version = '0.0.0';
    source = 'default';
  }

  const commit = nonEmptyString(release.commit) || nonEmptyString(env.APP_COMMIT) || 'unknown';
  return { version, commit, source, warnings };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function send(res, status, contentType, body, extraHeaders = {}) {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  res.end(body);
}

function sendJson(res, status, payload, extraHeaders) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(payload), extraHeaders);
}

function indexPage(release) {
  const version = escapeHtml(release.version);
  const commit = escapeHtml(release.commit);
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>sample-app ${version}</title></head>`,
    '<body>',
    '<h1>sample-app</h1>',
    `<p>Version <strong id="version">${version}</strong> (commit <code>${commit}</code>)</p>`,
    '<p><a href="/health">/health</a> &middot; <a href="/version">/version</a></p>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * The request handler. Options (all optional, injectable for tests):
 *  release  {version, commit} (default: resolveRelease())
 *  logger   createLogger() instance
 *  hostname reported by /health (default os.hostname())
 *  now      () => milliseconds, the clock for uptime and request timing
 *  isClosing () => boolean; when true responses carry "Connection: close" so keep-alive
 *           connections end after their in-flight request during a graceful shutdown.
 */
function createApp(options = {}) {
  const release = options.release || resolveRelease();
  const logger = options.logger || createLogger();
  const hostname = options.hostname || os.hostname();
  const now = options.now || (() => performance.now());
  const isClosing = options.isClosing || (() => false);
  const startedAt = now();

  const routes = {
    '/': (req, res) => send(res, 200, 'text/html; charset=utf-8', indexPage(release)),
    '/health': (req, res) => sendJson(res, 200, {
      status: 'ok',
      version: release.version,
      uptime: Math.round(now() - startedAt) / 1000,
      hostname,
    }),
    '/version': (req, res) => sendJson(res, 200, { version: release.version, commit: release.commit }),
  };

  return function handler(req, res) {
    const started = now();
    let pathname = '/';
    try {
      pathname = new URL(req.url, 'http://localhost').pathname;
    } catch {
      pathname = req.url;
    }
    res.on('finish', () => {
      logger.info('request', {
        method: req.method,
        path: pathname,
        status: res.statusCode,
        ms: Math.round((now() - started) * 1000) / 1000,
      });
    });
    if (isClosing()) {
      res.setHeader('Connection', 'close');
    }

    const route = Object.prototype.hasOwnProperty.call(routes, pathname) ? routes[pathname] : null;
    if (!route) {
      sendJson(res, 404, { error: 'not found', path: pathname });
      return;
    }
    // HEAD is answered like GET (node:http drops the body), as HTTP requires of servers.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed', method: req.method }, { Allow: 'GET, HEAD' });
      return;
    }
    route(req, res);
  };
}

/** An http.Server running createApp(options); not listening yet. */
function createServer(options = {}) {
  return http.createServer(createApp(options));
}

module.exports = {
  APP_ROOT,
  createApp,
  createLogger,
  createServer,
  escapeHtml,
  resolveRelease,
};

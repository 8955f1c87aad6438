'use strict';

// Entry point: `node src/server.js`.
// Environment: PORT (default 3000; 0 picks a free port), HOST (default 0.0.0.0),
// APP_VERSION / APP_COMMIT (see resolveRelease in app.js),
// SHUTDOWN_TIMEOUT_MS (default 10000): how long a graceful shutdown waits for in-flight
// requests before closing connections and exiting 1.

const { createApp, createLogger, resolveRelease, APP_ROOT } = require('./app');
const http = require('node:http');

const DEFAULT_PORT = 3000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10000;

function parsePort(value) {
  if (value === undefined || value === null || String(value).trim() === '') {
    return DEFAULT_PORT;
  }
  const text = String(value).trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new Error(`PORT must be an integer between 0 and 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

function parseTimeout(value) {
  const ms = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(ms) && ms >= 0
    ? ms
    : DEFAULT_SHUTDOWN_TIMEOUT_MS;
}

/**
 * Start listening and install SIGTERM/SIGINT handlers for a graceful shutdown:
 * stop accepting, let in-flight requests finish, then exit 0 (exit 1 if that takes longer
 * than SHUTDOWN_TIMEOUT_MS). `proc` (default: process) provides
 * signal registration (`on`) and `exit`, so tests can drive it without real signals.
 * Returns {server, shutdown(signal), listening: Promise<{host, port}>}.
 */
function start({ env = process.env, proc = process, logger = createLogger(), appRoot = APP_ROOT } = {}) {
  const port = parsePort(env.PORT);
  const host = env.HOST && env.HOST.trim() ? env.HOST.trim() : '0.0.0.0';
  const shutdownTimeoutMs = parseTimeout(env.SHUTDOWN_TIMEOUT_MS);
  const release = resolveRelease({ env, appRoot });
  for (const warning of release.warnings) {
    logger.warn('release metadata', { warning });
  }

  let closing = false;
  const server = http.createServer(createApp({ release, logger, isClosing: () => closing }));

  const listening = new Promise((resolve, reject) => {
    server.once('listening', () => {
      const address = server.address();
      logger.info('listening', {
        host: address.address,
        port: address.port,
        version: release.version,
        commit: release.commit,
        versionSource: release.source,
        pid: proc.pid,
        node: process.version,
      });
      resolve({ host: address.address, port: address.port });
    });
    server.once('error', (err) => {
      logger.error('server error', { error: err.message, code: err.code, host, port });
      reject(err);
      proc.exit(1);
    });
  });
  // The promise is for callers who care; an unobserved rejection must not crash the process
  // before the 'error' handler above logs and exits.
  listening.catch(() => {});

  function shutdown(signal) {
    if (closing) {
      logger.info('shutdown already in progress', { signal });
      return;
    }
    closing = true;
    logger.info('shutdown started', { signal, timeoutMs: shutdownTimeoutMs });
    const timer = setTimeout(() => {
      logger.error('shutdown timed out, closing open connections', { signal, timeoutMs: shutdownTimeoutMs });
      server.closeAllConnections();
      proc.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    server.close((err) => {
      clearTimeout(timer);
      if (err && err.code !== 'ERR_SERVER_NOT_RUNNING') {
        logger.error('shutdown failed', { signal, error: err.message });
        proc.exit(1);
        return;
      }
      logger.info('shutdown complete', { signal });
      proc.exit(0);
    });
    // Keep-alive connections with no request in flight would hold close() open.
    server.closeIdleConnections();
  }

  proc.on('SIGTERM', () => shutdown('SIGTERM'));
  proc.on('SIGINT', () => shutdown('SIGINT'));

  server.listen(port, host);
  return { server, shutdown, listening };
}

function main() {
  const logger = createLogger();
  try {
    start({ logger });
  } catch (err) {
    logger.error('startup failed', { error: err.message });
    process.exit(1);
  }
}

/* istanbul ignore next -- exercised by the spawned-process tests, which coverage cannot see */
if (require.main === module) {
  main();
}

module.exports = { start, parsePort, parseTimeout, main, DEFAULT_PORT };

'use strict';

const { EventEmitter } = require('node:events');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { start: startServer, parsePort, parseTimeout, DEFAULT_PORT } = require('../src/server');
const { request, close, memoryLogger } = require('./helpers');

const SERVER_JS = path.resolve(__dirname, '..', 'src', 'server.js');

/** Stands in for `process`: signals are emitted by the test, exit() is recorded. */
function fakeProcess() {
  const proc = new EventEmitter();
  proc.pid = 4242;
  proc.exited = new Promise((resolve) => {
    proc.exit = jest.fn((code) => resolve(code));
  });
  return proc;
}

describe('parsePort / parseTimeout', () => {
  test.each([
    [undefined, DEFAULT_PORT],
    ['', DEFAULT_PORT],
    ['0', 0],
    [' 8080 ', 8080],
    ['65535', 65535],
  ])('parsePort(%p) = %p', (value, expected) => {
    expect(parsePort(value)).toBe(expected);
  });

  test.each(['abc', '-1', '65536', '80.5', '1e3'])('parsePort(%p) throws', (value) => {
    expect(() => parsePort(value)).toThrow(/PORT must be an integer/);
  });

  test('parseTimeout', () => {
    expect(parseTimeout(undefined)).toBe(10000);
    expect(parseTimeout('')).toBe(10000);
    expect(parseTimeout('x')).toBe(10000);
    expect(parseTimeout('-5')).toBe(10000);
    expect(parseTimeout('250')).toBe(250);
  });
});

describe('start (in-process)', () => {
  const env = { PORT: '0', HOST: '127.0.0.1', APP_VERSION: '7.7.7', APP_COMMIT: 'cafe' };
  // Every server a test starts is closed after it, passed or failed: a test that fails
  // before its own shutdown must not leave a listening server that keeps jest running.
  const servers = [];
  function start(options) {
    const started = startServer(options);
    servers.push(started.server);
    return started;
  }
  afterEach(() => Promise.all(servers.splice(0).map(close)));

  test('listens, logs the real port, serves, and shuts down gracefully on SIGTERM', async () => {
    const proc = fakeProcess();
    const logger = memoryLogger();
    const { listening } = start({ env, proc, logger });
    const { port, host } = await listening;
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(logger.entries[0]).toMatchObject({
      level: 'info', msg: 'listening', port, version: '7.7.7', commit: 'cafe', versionSource: 'env', pid: 4242,
    });

    const res = await request(port, { path: '/health' });
    expect(res.json).toMatchObject({ status: 'ok', version: '7.7.7' });

    proc.emit('SIGTERM');
    proc.emit('SIGINT'); // a second signal does not start a second shutdown
    await expect(proc.exited).resolves.toBe(0);
    const msgs = logger.entries.map((e) => e.msg);
    expect(msgs).toEqual(expect.arrayContaining(['shutdown started', 'shutdown already in progress', 'shutdown complete']));
    expect(logger.entries.find((e) => e.msg === 'shutdown complete').signal).toBe('SIGTERM');
    await expect(request(port, { path: '/health' })).rejects.toThrow();
  });

  test('SIGINT shuts down too', async () => {
    const proc = fakeProcess();
    const logger = memoryLogger();
    await start({ env, proc, logger }).listening;
    proc.emit('SIGINT');
    await expect(proc.exited).resolves.toBe(0);
    expect(logger.entries.find((e) => e.msg === 'shutdown complete').signal).toBe('SIGINT');
  });

  test('an in-flight request completes during shutdown and closes its connection', async () => {
    const proc = fakeProcess();
    const logger = memoryLogger();
    const { server, listening } = start({ env, proc, logger });
    const { port } = await listening;
    // The signal arrives while the request is being handled.
    server.prependListener('request', () => proc.emit('SIGTERM'));
    const res = await request(port, { path: '/version', headers: { Connection: 'keep-alive' } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: '7.7.7', commit: 'cafe' });
    expect(res.headers.connection).toBe('close');
    await expect(proc.exited).resolves.toBe(0);
  });

  test('an idle keep-alive connection does not hold the shutdown', async () => {
    const proc = fakeProcess();
    const { listening } = start({ env, proc, logger: memoryLogger() });
    const { port } = await listening;
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => {
      socket.once('data', resolve);
      socket.write('GET /health HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n');
    });
    proc.emit('SIGTERM');
    await expect(proc.exited).resolves.toBe(0);
    await closed;
  });

  test('a request that never finishes is cut off after SHUTDOWN_TIMEOUT_MS with exit 1', async () => {
    const proc = fakeProcess();
    const logger = memoryLogger();
    const { server, listening } = start({ env: { ...env, SHUTDOWN_TIMEOUT_MS: '50' }, proc, logger });
    const { port } = await listening;
    server.prependListener('request', (req, res) => {
      res.end = () => res; // the response never completes
      proc.emit('SIGTERM');
    });
    const failed = request(port, { path: '/health' }).catch((err) => err);
    await expect(proc.exited).resolves.toBe(1);
    expect((await failed).code).toBe('ECONNRESET'); // socket hang up
    expect(logger.entries.map((e) => e.msg)).toContain('shutdown timed out, closing open connections');
  });

  test('a port already in use logs an error and exits 1', async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = blocker.address().port;
    try {
      const proc = fakeProcess();
      const logger = memoryLogger();
      const { listening } = start({ env: { ...env, PORT: String(busyPort) }, proc, logger });
      await expect(listening).rejects.toThrow(/EADDRINUSE/);
      await expect(proc.exited).resolves.toBe(1);
      expect(logger.entries.find((e) => e.msg === 'server error')).toMatchObject({ code: 'EADDRINUSE', port: busyPort });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('release.json warnings are logged at startup', async () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const appRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-app-start-'));
    try {
      fs.writeFileSync(path.join(appRoot, 'package.json'), '{"version":"5.0.0"}');
      fs.writeFileSync(path.join(appRoot, 'release.json'), 'oops');
      const proc = fakeProcess();
      const logger = memoryLogger();
      const { listening } = start({ env: { PORT: '0', HOST: '127.0.0.1' }, proc, logger, appRoot });
      await listening;
      expect(logger.entries[0]).toMatchObject({ level: 'warn', msg: 'release metadata' });
      expect(logger.entries[1]).toMatchObject({ msg: 'listening', version: '5.0.0', versionSource: 'package.json' });
      proc.emit('SIGTERM');
      await expect(proc.exited).resolves.toBe(0);
    } finally {
      fs.rmSync(appRoot, { recursive: true, force: true });
    }
  });
});

/**
 * Run `node src/server.js` for real. Resolves once it logged 'listening' with
 * {child, port, lines, exited}; `lines` collects parsed stdout JSON lines.
 */
function spawnServer(extraEnv = {}) {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', ...extraEnv };
  delete env.APP_VERSION;
  delete env.APP_COMMIT;
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const entry = JSON.parse(line);
        lines.push(entry);
        if (entry.msg === 'listening') {
          resolve({ child, port: entry.port, lines, exited });
        }
      }
    });
    child.stderr.on('data', (chunk) => { stderr += chunk.toString('utf8'); });
    exited.then(({ code }) => reject(new Error(`server exited early with ${code}: ${stderr}`)));
  });
  return { child, lines, exited, ready };
}

describe('node src/server.js (real process)', () => {
  // Every child a test spawns is killed and reaped after it, passed or failed.
  const children = [];
  afterEach(() => Promise.all(children.splice(0).map((child) => {
    if (child.exitCode !== null || child.signalCode !== null) return undefined;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    return gone;
  })));

  test.each(['SIGTERM', 'SIGINT'])('exits 0 on %s and logs the shutdown', async (signal) => {
    const spawned = spawnServer({ APP_VERSION: '8.8.8' });
    children.push(spawned.child);
    const { child, port, lines, exited } = await spawned.ready;
    expect(port).toBeGreaterThan(0);
    const res = await request(port, { path: '/health' });
    expect(res.json).toMatchObject({ status: 'ok', version: '8.8.8' });

    child.kill(signal);
    const { code } = await exited;
    expect(code).toBe(0);
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toEqual(['listening', 'request', 'shutdown started', 'shutdown complete']);
    expect(lines[3]).toMatchObject({ level: 'info', signal });
    for (const line of lines) {
      expect(typeof line.time).toBe('string');
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    }
    expect(lines[1]).toMatchObject({ method: 'GET', path: '/health', status: 200 });
    expect(typeof lines[1].ms).toBe('number');
  });

  test('an invalid PORT fails fast with exit 1 and a logged reason', async () => {
    const spawned = spawnServer({ PORT: 'not-a-port' });
    children.push(spawned.child);
    spawned.ready.catch(() => {});
    const { code } = await spawned.exited;
    expect(code).toBe(1);
    expect(spawned.lines).toEqual([expect.objectContaining({ level: 'error', msg: 'startup failed' })]);
    expect(spawned.lines[0].error).toMatch(/PORT must be an integer/);
  });
});

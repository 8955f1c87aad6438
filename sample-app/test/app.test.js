'use strict';

const os = require('node:os');
const { createServer, createApp, createLogger, escapeHtml } = require('../src/app');
const { listen, close, request, memoryLogger, memoryStream } = require('./helpers');

const release = { version: '1.2.3+abc1234', commit: 'abc1234def5678' };

describe('routes', () => {
  let server;
  let port;
  let logger;
  let clock;

  beforeEach(async () => {
    logger = memoryLogger();
    clock = 1000;
    server = createServer({ release, logger, hostname: 'host-a', now: () => clock });
    port = await listen(server);
  });

  afterEach(() => close(server));

  test('GET / is an HTML page naming the version', async () => {
    const res = await request(port, { path: '/' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<!doctype html>');
    expect(res.body).toContain('1.2.3+abc1234');
    expect(res.body).toContain('abc1234def5678');
  });

  test('GET /health reports ok, version, uptime and hostname', async () => {
    clock += 2500;
    const res = await request(port, { path: '/health' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json).toEqual({ status: 'ok', version: '1.2.3+abc1234', uptime: 2.5, hostname: 'host-a' });
  });

  test('GET /health ignores the query string', async () => {
    const res = await request(port, { path: '/health?probe=1' });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('ok');
  });

  test('GET /version reports version and commit', async () => {
    const res = await request(port, { path: '/version' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: '1.2.3+abc1234', commit: 'abc1234def5678' });
  });

  test('HEAD is answered like GET without a body', async () => {
    const res = await request(port, { method: 'HEAD', path: '/health' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
  });

  test('unknown route is a JSON 404', async () => {
    const res = await request(port, { path: '/nope' });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json).toEqual({ error: 'not found', path: '/nope' });
  });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s on a known route is a JSON 405', async (method) => {
    const res = await request(port, { method, path: '/health' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.json).toEqual({ error: 'method not allowed', method });
  });

  test('every request is logged with method, path, status and ms', async () => {
    await request(port, { path: '/version?x=1' });
    await request(port, { method: 'POST', path: '/' });
    const requests = logger.entries.filter((e) => e.msg === 'request');
    expect(requests).toEqual([
      { level: 'info', msg: 'request', method: 'GET', path: '/version', status: 200, ms: 0 },
      { level: 'info', msg: 'request', method: 'POST', path: '/', status: 405, ms: 0 },
    ]);
  });
});

describe('createApp defaults', () => {
  test('uses the real hostname and clock, and says Connection: close while closing', async () => {
    const logger = memoryLogger();
    let closing = false;
    const server = require('node:http').createServer(
      createApp({ release, logger, isClosing: () => closing }),
    );
    const port = await listen(server);
    try {
      const first = await request(port, { path: '/health', headers: { Connection: 'keep-alive' } });
      expect(first.json.hostname).toBe(os.hostname());
      expect(first.json.uptime).toBeGreaterThanOrEqual(0);
      expect(first.headers.connection).not.toBe('close');
      closing = true;
      const second = await request(port, { path: '/health', headers: { Connection: 'keep-alive' } });
      expect(second.headers.connection).toBe('close');
    } finally {
      await close(server);
    }
  });

  test('without options it resolves the release from the app directory', async () => {
    const server = createServer({ logger: memoryLogger() });
    const port = await listen(server);
    try {
      const res = await request(port, { path: '/version' });
      expect(res.status).toBe(200);
      expect(typeof res.json.version).toBe('string');
      expect(res.json.version.length).toBeGreaterThan(0);
    } finally {
      await close(server);
    }
  });

  test('a malformed request target still gets an answer', () => {
    const logger = memoryLogger();
    const handler = createApp({ release, logger });
    const res = new (require('node:events').EventEmitter)();
    res.statusCode = 0;
    res.setHeader = jest.fn();
    res.writeHead = jest.fn((status) => { res.statusCode = status; });
    res.end = jest.fn(() => res.emit('finish'));
    handler({ method: 'GET', url: 'http://[bad' }, res);
    expect(res.statusCode).toBe(404);
    expect(logger.entries[0]).toMatchObject({ msg: 'request', path: 'http://[bad', status: 404 });
  });
});

describe('createLogger', () => {
  test('writes one JSON object per line with time, level and msg', () => {
    const stream = memoryStream();
    const logger = createLogger(stream, () => new Date('2024-01-02T03:04:05.000Z'));
    logger.info('hello', { a: 1 });
    logger.warn('careful');
    logger.error('boom', { code: 'E' });
    const lines = stream.text().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { time: '2024-01-02T03:04:05.000Z', level: 'info', msg: 'hello', a: 1 },
      { time: '2024-01-02T03:04:05.000Z', level: 'warn', msg: 'careful' },
      { time: '2024-01-02T03:04:05.000Z', level: 'error', msg: 'boom', code: 'E' },
    ]);
  });
});

test('escapeHtml escapes markup characters', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

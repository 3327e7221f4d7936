// Attacks on the dashboard files a daemon serves from memory: path traversal in many spellings,
// other methods on asset paths, and foreign Host or Origin headers. Every reply must be an
// error or byte for byte a file of ui/dist, and the daemon must keep running.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestHome,
  REPO_ROOT,
  writeConfig,
  type TestHome,
} from '../reliability/harness/daemon-process.js';
import { rawHttp, type RawHttpResponse } from './raw-http.js';
import { startDaemonWithin, type StartedDaemon } from './restart-helpers.js';

const UI_DIST = join(REPO_ROOT, 'ui', 'dist');

let home: TestHome;
let started: StartedDaemon;
/** SHA-256 of every file in ui/dist, by URL path. */
const distFiles = new Map<string, string>();
/** Files outside ui/dist that a traversal would reach, with content no dashboard file has. */
let outsideFiles: Array<{ name: string; text: string }>;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function collectDistFiles(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      collectDistFiles(path);
    } else if (entry.isFile()) {
      distFiles.set(
        `/${relative(UI_DIST, path).split('\\').join('/')}`,
        sha256(readFileSync(path)),
      );
    }
  }
}

beforeAll(async () => {
  expect(existsSync(join(UI_DIST, 'index.html')), 'run `npm run build` to create ui/dist').toBe(
    true,
  );
  collectDistFiles(UI_DIST);
  home = createTestHome('static-files');
  writeConfig(home, []);
  started = await startDaemonWithin(home);
  outsideFiles = [
    { name: 'package.json', text: '"name": "bastionless"' },
    { name: 'config.json', text: readFileSync(home.configFile, 'utf8').slice(0, 40) },
    { name: 'token', text: started.token },
  ];
  if (existsSync('/etc/passwd')) {
    outsideFiles.push({ name: '/etc/passwd', text: 'root:' });
  }
});

afterAll(async () => {
  await started?.daemon.stop();
  home?.remove();
});

function get(target: string | Buffer, headers = ''): Promise<RawHttpResponse> {
  const host = `Host: 127.0.0.1:${started.port}`;
  return rawHttp(
    started.port,
    Buffer.concat([
      Buffer.from('GET '),
      Buffer.from(target),
      Buffer.from(` HTTP/1.1\r\n${host}${headers}`),
    ]),
  );
}

/** Checks that a reply is an error, or a dashboard file that `expectedPath` names exactly. */
function expectNoLeak(response: RawHttpResponse, label: string, expectedPath?: string): void {
  const text = response.body.toString('latin1');
  for (const file of outsideFiles) {
    expect(text.includes(file.text), `${label} returned content of ${file.name}`).toBe(false);
  }
  if (response.status === 200) {
    expect(expectedPath, `${label} returned 200`).toBeDefined();
    expect(sha256(response.body), `${label} body`).toBe(distFiles.get(expectedPath!));
  } else {
    expect([400, 403, 404, 405, 414, 431], `${label} status`).toContain(response.status);
  }
}

async function expectDaemonAlive(): Promise<void> {
  expect(started.daemon.child.exitCode).toBeNull();
  const response = await get('/healthz');
  expect(response.status).toBe(200);
}

const TRAVERSALS: string[] = [
  '/../package.json',
  '/../../../../etc/passwd',
  '/assets/../../package.json',
  '/..%2fpackage.json',
  '/%2e%2e/package.json',
  '/%2e%2e%2fpackage.json',
  '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
  '/assets/%2e%2e/%2e%2e/package.json',
  '/.%2e/.%2e/etc/passwd',
  '/%252e%252e%252fpackage.json',
  '/%25252e%25252e/package.json',
  '/..\\package.json',
  '/assets\\..\\..\\package.json',
  '/..%5cpackage.json',
  '/..%255cpackage.json',
  '/%c0%ae%c0%ae/package.json',
  '/%c0%ae%c0%ae%c0%afpackage.json',
  '/%e0%80%ae%e0%80%ae/package.json',
  '/%c1%9c..%c1%9cpackage.json',
  '/index.html%00.js',
  '/%00../package.json',
  '//etc/passwd',
  '/%2fetc%2fpasswd',
  '/./package.json',
  '/ui/dist/index.html',
  '/ui/../package.json',
  '/INDEX.HTML',
  '/index.html/',
  '/index.html/..',
  '/index.html;../package.json',
  '/assets/',
  '/.',
  '/..',
  '/token',
  '/config.json',
  '*',
  '/' + 'a'.repeat(4000),
  // Past Node's 16 KiB limit for the request line and headers.
  '/' + 'a'.repeat(20_000),
  '/' + '../'.repeat(1500) + 'etc/passwd',
  '/' + '%2e%2e%2f'.repeat(800) + 'etc/passwd',
];

describe('dashboard static files', () => {
  it('serves every ui/dist file exactly', async () => {
    for (const path of distFiles.keys()) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expectNoLeak(response, path, path);
    }
    const root = await get('/');
    expectNoLeak(root, '/', '/index.html');
    expect(root.status).toBe(200);
  });

  it.each(TRAVERSALS)('rejects traversal %s', async (target) => {
    const response = await get(target);
    expectNoLeak(response, target.slice(0, 80));
    await expectDaemonAlive();
  });

  it('rejects raw bytes in the path', async () => {
    const targets = [
      Buffer.from('/\u0000/package.json', 'latin1'),
      Buffer.from('/index.html\u0000', 'latin1'),
      Buffer.from([0x2f, 0xc0, 0xae, 0xc0, 0xae, 0x2f, 0x70]),
      Buffer.from([0x2f, 0xff, 0xfe]),
      Buffer.from('/index.html\t', 'latin1'),
      Buffer.from('/a b/../../package.json', 'latin1'),
    ];
    for (const target of targets) {
      const response = await get(target);
      expectNoLeak(response, JSON.stringify(target.toString('latin1')));
    }
    await expectDaemonAlive();
  });

  it('ignores the query string', async () => {
    for (const target of ['/index.html?../../package.json', '/?path=../../etc/passwd']) {
      const response = await get(target);
      expect(response.status, target).toBe(200);
      expectNoLeak(response, target, '/index.html');
    }
    const encoded = await get('/%3F/../package.json');
    expectNoLeak(encoded, '/%3F/../package.json');
  });

  it('rejects an absolute-form target', async () => {
    const port = started.port;
    for (const target of [
      `http://127.0.0.1:${port}/../package.json`,
      `http://127.0.0.1:${port}/%2e%2e/package.json`,
      'http://evil.example/index.html',
    ]) {
      const response = await get(target);
      expectNoLeak(response, target);
    }
    await expectDaemonAlive();
  });

  it('serves HEAD without a body', async () => {
    const response = await rawHttp(
      started.port,
      `HEAD /index.html HTTP/1.1\r\nHost: 127.0.0.1:${started.port}`,
    );
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(0);
  });

  it('rejects other methods on dashboard paths', async () => {
    const asset =
      [...distFiles.keys()].find((path) => path.startsWith('/assets/')) ?? '/index.html';
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']) {
      for (const path of ['/', '/index.html', asset]) {
        const response = await rawHttp(
          started.port,
          `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${started.port}\r\nContent-Length: 0`,
        );
        expectNoLeak(response, `${method} ${path}`);
      }
    }
    await expectDaemonAlive();
  });

  it('rejects a foreign Host or Origin', async () => {
    const port = started.port;
    const cases = [
      { label: 'foreign Host', head: `GET /index.html HTTP/1.1\r\nHost: evil.example:${port}` },
      {
        label: 'rebinding Host',
        head: `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1.nip.io:${port}`,
      },
      { label: 'Host without port', head: 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1' },
      { label: 'no Host', head: 'GET /index.html HTTP/1.0' },
      {
        label: 'foreign Origin',
        head: `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://evil.example`,
      },
      {
        label: 'null Origin',
        head: `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: null`,
      },
    ];
    for (const { label, head } of cases) {
      const response = await rawHttp(port, head);
      expect(response.status, label).toBe(403);
      expectNoLeak(response, label);
    }
  });
});

// Scans every log and audit file that daemons of the test suite wrote for the secrets they
// were given: emulator secret keys, session tokens (TokenValue), the API token. Daemon
// homes live under TEST_HOMES_ROOT with a manifest of their secrets. This file also runs a
// daemon of its own, so at least one home is always scanned even when it runs alone.

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator/index.js';
import { freePort } from '../cli/helpers.js';
import {
  DONE_MARKER,
  SECRETS_MANIFEST,
  TEST_HOMES_ROOT,
  createTestHome,
  reliabilityScenario,
  startDaemonProcess,
  waitFor,
  writeConfig,
} from '../reliability/harness/daemon-process.js';
import { runBulk } from '../reliability/harness/workload.js';
import { WorkloadServer } from '../reliability/harness/workload-server.js';

/** The API token file contains its secret by design; every other file must not. */
const SECRET_HOLDERS = new Set(['token']);
/** Base64url runs this long look like a TokenValue (128 characters from the emulator). */
const TOKEN_LIKE = /[A-Za-z0-9_-]{100,}/;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Lists the secrets of `home`'s manifest, and token-like strings, found in its state files. */
function scanHome(home: string): { leaks: string[]; files: number; bytes: number } {
  const { secrets } = JSON.parse(readFileSync(join(home, SECRETS_MANIFEST), 'utf8')) as {
    secrets: string[];
  };
  const leaks: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const file of filesUnder(join(home, 'state'))) {
    if (SECRET_HOLDERS.has(file.split('/').at(-1)!)) {
      continue;
    }
    const text = readFileSync(file, 'utf8');
    files += 1;
    bytes += text.length;
    for (const secret of secrets) {
      if (text.includes(secret)) {
        leaks.push(`${file} contains a secret starting ${secret.slice(0, 6)}…`);
      }
    }
    const tokenLike = TOKEN_LIKE.exec(text);
    if (tokenLike) {
      leaks.push(`${file} contains a token-like string starting ${tokenLike[0].slice(0, 6)}…`);
    }
  }
  return { leaks, files, bytes };
}

/** Runs a daemon with a session and a transfer, so its log has something to leak. */
async function writeOwnHome(): Promise<void> {
  const emulator = await startEmulator({ pacing: false, scenario: reliabilityScenario() });
  const target = new WorkloadServer();
  await target.listen();
  const home = createTestHome('secrets-scan');
  const localPort = await freePort();
  writeConfig(home, [
    { name: 'scan', localPort, remotePort: target.port, emulatorUrl: emulator.url },
  ]);
  const daemon = startDaemonProcess(home);
  try {
    const api = await daemon.api();
    await waitFor('the tunnel to open', async () => {
      const { body } = await daemon.request<Array<{ state: string }>>('/v1/tunnels');
      return Array.isArray(body) && body[0]?.state === 'open' ? true : undefined;
    });
    const result = await runBulk({
      port: localPort,
      connectionId: 1,
      uploadBytes: 65536,
      downloadBytes: 65536,
      readTimeoutMs: 20_000,
    });
    expect(result.ok).toBe(true);
    // Wrong tokens are logged as rejections; the log must not echo what was presented.
    await daemon.request('/v1/tunnels', {
      headers: { authorization: `Bearer ${api.token}-wrong` },
    });
    emulator.closeWebsocket(emulator.sessions[0]!.sessionId);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    home.addSecrets([api.token]);
    home.addSecrets(emulator.sessions.map((s) => emulator.session(s.sessionId)?.token ?? ''));
  } finally {
    await daemon.stop();
    home.finish();
    await target.close();
    await emulator.close();
  }
}

describe('secrets in test logs', () => {
  it('reports a planted secret', () => {
    const home = createTestHome('planted-secret');
    mkdirSync(home.stateDir, { recursive: true });
    home.addSecrets(['planted-secret-value-0123456789']);
    writeFileSync(join(home.stateDir, 'daemon.log'), '{"msg":"planted-secret-value-0123456789"}\n');
    writeFileSync(join(home.stateDir, 'audit.jsonl'), `{"x":"${'A'.repeat(128)}"}\n`);
    const scan = scanHome(home.dir);
    rmSync(home.dir, { recursive: true, force: true });
    expect(scan.files).toBe(2);
    expect(scan.leaks).toHaveLength(2);
  });

  it('finds none in any finished daemon home', { timeout: 90_000 }, async () => {
    await writeOwnHome();
    const homes = readdirSync(TEST_HOMES_ROOT)
      .map((name) => join(TEST_HOMES_ROOT, name))
      .filter((dir) => existsSync(join(dir, DONE_MARKER)));
    const leaks: string[] = [];
    let scannedFiles = 0;
    let scannedBytes = 0;
    for (const home of homes) {
      const scan = scanHome(home);
      leaks.push(...scan.leaks);
      scannedFiles += scan.files;
      scannedBytes += scan.bytes;
    }
    console.log(JSON.stringify({ homes: homes.length, scannedFiles, scannedBytes }));

    expect(leaks).toEqual([]);
    expect(scannedFiles).toBeGreaterThan(0);
    for (const home of homes) {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

// Scans every daemon log and audit file that the test suite wrote for the secrets the suite
// handed out. These are the emulator's secret access keys and session tokens (scenario
// credentials, AssumeRole results, StartSession and ResumeSession TokenValues), the SSO
// portal's tokens, MFA codes sent to AssumeRole, and every control API token. scripts/run-tests.mjs runs this
// file after all the others; test/helpers/suite-secrets.ts explains where the files come from.
// The file also runs a daemon of its own, so something is scanned even when it runs alone.

import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator/index.js';
import { freePort } from '../cli/helpers.js';
import {
  PLANTED_PREFIX,
  SUITE_DIR_ENV,
  appendSecret,
  isScannedLogFile,
  isTokenFile,
  readRecordedSecrets,
  suiteDir,
  type SecretKind,
} from '../helpers/suite-secrets.js';
import {
  createTestHome,
  reliabilityScenario,
  startDaemonProcess,
  waitFor,
  writeConfig,
} from '../reliability/harness/daemon-process.js';
import { runBulk } from '../reliability/harness/workload.js';
import { WorkloadServer } from '../reliability/harness/workload-server.js';

/** Base64url runs this long look like a TokenValue (128 characters from the emulator). */
const TOKEN_LIKE = /[A-Za-z0-9_-]{100,}/;
/** Shorter secrets could match unrelated text by chance. Every emulator secret is longer. */
const MIN_SECRET_LENGTH = 16;
/** Test homes are shallow, so this bound only stops a walk into something deep by accident. */
const MAX_DEPTH = 12;

interface ScanResult {
  leaks: string[];
  logFiles: number;
  bytes: number;
  /** Secrets looked for, by kind; `api-token` also counts the token files found. */
  secretCounts: Partial<Record<SecretKind, number>>;
}

function filesUnder(dir: string, depth = 0): string[] {
  if (!existsSync(dir) || depth > MAX_DEPTH) {
    return [];
  }
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stats = lstatSync(path);
    if (stats.isDirectory()) {
      return filesUnder(path, depth + 1);
    }
    return stats.isFile() ? [path] : [];
  });
}

/** Matches a six-digit code only where no other digit touches it, as in `"code":"493817"`. */
function mfaPattern(code: string): RegExp {
  return new RegExp(`(?<![0-9])${code}(?![0-9])`);
}

/** Looks for the secrets recorded under `suite` in every log and audit file under `roots`. */
function scan(suite: string, roots: string[]): ScanResult {
  const files = roots.flatMap((root) => filesUnder(root));
  const recorded = readRecordedSecrets(suite);
  const apiTokens = files
    .filter((file) => isTokenFile(basename(file)))
    .map((file) => readFileSync(file, 'utf8').trim())
    .filter((token) => token.length > 0);
  const plain = [
    ...recorded.filter((secret) => secret.kind !== 'mfa-code').map((secret) => secret.value),
    ...apiTokens,
  ].filter((value) => value.length >= MIN_SECRET_LENGTH);
  const codes = recorded
    .filter((secret) => secret.kind === 'mfa-code')
    .map((secret) => ({ code: secret.value, pattern: mfaPattern(secret.value) }));

  const secretCounts: ScanResult['secretCounts'] = {};
  for (const secret of [
    ...recorded,
    ...apiTokens.map((value) => ({ kind: 'api-token' as const, value })),
  ]) {
    secretCounts[secret.kind] = (secretCounts[secret.kind] ?? 0) + 1;
  }

  const leaks: string[] = [];
  let logFiles = 0;
  let bytes = 0;
  for (const file of files.filter((path) => isScannedLogFile(basename(path)))) {
    const text = readFileSync(file, 'utf8');
    logFiles += 1;
    bytes += text.length;
    for (const secret of plain) {
      if (text.includes(secret)) {
        leaks.push(`${file} contains a secret starting ${secret.slice(0, 6)}…`);
      }
    }
    for (const { code, pattern } of codes) {
      if (pattern.test(text)) {
        leaks.push(`${file} contains the MFA code ${code}`);
      }
    }
    const tokenLike = TOKEN_LIKE.exec(text);
    if (tokenLike) {
      leaks.push(`${file} contains a token-like string starting ${tokenLike[0].slice(0, 6)}…`);
    }
  }
  return { leaks, logFiles, bytes, secretCounts };
}

/**
 * Runs a daemon with a session, a transfer, a rejected API token and a dropped websocket, so
 * its log has something to leak. Returns the daemon's home, which the caller scans.
 */
async function writeOwnHome(): Promise<string> {
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
  } finally {
    await daemon.stop();
    await target.close();
    await emulator.close();
  }
  return home.dir;
}

describe('secrets in test logs', () => {
  it('reports planted secrets', () => {
    const suite = mkdtempSync(join(tmpdir(), PLANTED_PREFIX));
    const state = join(suite, 'home', 'state');
    mkdirSync(state, { recursive: true });
    appendSecret(suite, 'session-token', 'planted-session-token-0123456789');
    appendSecret(suite, 'mfa-code', '482913');
    appendSecret(suite, 'mfa-code', '771205');
    writeFileSync(join(state, 'token'), 'planted-api-token-abcdefghijklmnop\n');
    writeFileSync(
      join(state, 'daemon.log'),
      [
        '{"msg":"planted-session-token-0123456789"}',
        '{"msg":"mfa","code":"482913"}',
        // 771205 appears only inside a longer number, which is not the code.
        '{"msg":"sent","bytes":17712050}',
      ].join('\n'),
    );
    writeFileSync(join(state, 'audit.jsonl.1'), `{"x":"${'A'.repeat(128)}"}\n`);
    writeFileSync(join(state, 'daemon.log.2'), 'Bearer planted-api-token-abcdefghijklmnop\n');

    const result = scan(suite, [suite]);
    rmSync(suite, { recursive: true, force: true });

    expect(result.logFiles).toBe(3);
    expect(result.secretCounts).toEqual({ 'session-token': 1, 'mfa-code': 2, 'api-token': 1 });
    expect(result.leaks).toHaveLength(4);
    expect(result.leaks.filter((leak) => leak.includes('MFA code 482913'))).toHaveLength(1);
    expect(result.leaks.filter((leak) => leak.includes('771205'))).toHaveLength(0);
  });

  it('finds none in any log of the run', { timeout: 90_000 }, async () => {
    // Run alone (not through `npm test`), this file records into a suite directory of its own.
    const ownSuite = suiteDir() === undefined;
    if (ownSuite) {
      process.env[SUITE_DIR_ENV] = mkdtempSync(join(tmpdir(), 'bastionless-suite-'));
    }
    const suite = suiteDir()!;
    const ownHome = await writeOwnHome();

    const roots = ownHome.startsWith(`${suite}/`) ? [suite] : [suite, ownHome];
    const result = scan(suite, roots);
    console.log(JSON.stringify({ suite, ...result, leaks: result.leaks.length }));

    expect(result.leaks).toEqual([]);
    expect(result.logFiles).toBeGreaterThan(0);
    expect(result.secretCounts['session-token'] ?? 0).toBeGreaterThan(0);
    expect(result.secretCounts['secret-access-key'] ?? 0).toBeGreaterThan(0);
    expect(result.secretCounts['api-token'] ?? 0).toBeGreaterThan(0);
    if (process.env.BASTIONLESS_TEST_WHOLE_SUITE === '1') {
      // The whole suite sends MFA codes and starts dozens of daemons. Fewer secrets or logs
      // would mean that recording or keeping broke, not that the logs are clean.
      expect(result.secretCounts['mfa-code'] ?? 0).toBeGreaterThan(0);
      expect(result.secretCounts['sso-token'] ?? 0).toBeGreaterThan(0);
      expect(result.secretCounts['api-token'] ?? 0).toBeGreaterThan(20);
      expect(result.logFiles).toBeGreaterThan(20);
    }
    rmSync(ownHome, { recursive: true, force: true });
    if (ownSuite) {
      rmSync(suite, { recursive: true, force: true });
      delete process.env[SUITE_DIR_ENV];
    }
  });
});

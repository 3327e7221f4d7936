// A config file moved away for 2 s while the daemon runs: the daemon keeps its tunnels, so a
// held connection keeps working, and `status` names the missing file until it returns.

import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  openHeldConnection,
  runCli,
  setupEmulatorAndEcho,
  sha256,
  useCliHome,
  waitFor,
} from './helpers.js';

const rig = setupEmulatorAndEcho();

let home: string;
let env: NodeJS.ProcessEnv;
let file: string;

useCliHome('bastionless-config-moved-', (created) => ({ home, env, file } = created));

/** Sends `size` random bytes on an open echo connection; returns the sent and echoed SHA-256. */
function echoOnSocket(socket: Socket, size: number): Promise<{ sent: string; received: string }> {
  const payload = randomBytes(size);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(
      () => reject(new Error(`echo timed out with ${received} of ${size} bytes`)),
      20_000,
    );
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= size) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve({ sent: sha256(payload), received: sha256(Buffer.concat(chunks)) });
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed after ${received} bytes`)));
    socket.write(payload);
  });
}

describe('config file moved away', () => {
  it('keeps tunnels and reports it', { timeout: 120_000 }, async () => {
    const localPort = await freePort();
    const document = {
      version: 2,
      profiles: [rig.profile('echo', localPort, { autoStart: true })],
    };
    writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
    const started = await runCli(['start'], env, 60_000);
    expect(started.code, started.stderr).toBe(0);

    const socket = await openHeldConnection(localPort);
    let closed = false;
    socket.on('close', () => (closed = true));
    const before = await echoOnSocket(socket, 64 * 1024);
    expect(before.received).toBe(before.sent);

    const movedAt = Date.now();
    renameSync(file, `${file}.away`);
    const warning = await waitFor('status reports the missing file', async () => {
      const status = await runCli(['status'], env);
      return status.stderr.includes('is missing') ? status : undefined;
    });
    expect(warning.stderr).toContain(
      `warning: config file ${file} is missing, so the last profiles read from it stay in use; ` +
        'restore it, or write {"version": 2, "profiles": []} into it to remove every profile',
    );
    expect(warning.stdout).toContain('echo');
    // The tunnels run on, so the daemon logs a warning (pino level 40), not an error.
    const logLines = readFileSync(join(home, 'state', 'daemon.log'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('"ERR_CONFIG_MISSING"'))
      .map((line) => JSON.parse(line) as { level: number; file: string });
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines[0]!.level).toBe(40);
    expect(logLines[0]!.file).toBe(file);
    const during = await echoOnSocket(socket, 64 * 1024);
    expect(during.received).toBe(during.sent);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2000 - (Date.now() - movedAt))));
    renameSync(`${file}.away`, file);
    await waitFor('status stops reporting the file', async () => {
      const status = await runCli(['status'], env);
      return status.stderr === '' ? true : undefined;
    });

    const after = await echoOnSocket(socket, 256 * 1024);
    expect(after.received).toBe(after.sent);
    expect(closed).toBe(false);
    const status = await runCli(['status'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^echo +open +.* 1 +/m);
    socket.destroy();
  });
});

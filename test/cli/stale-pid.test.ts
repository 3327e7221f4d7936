// `bastionless status` and `stop` after the daemon exited without removing its pid file (kill -9), with the
// process gone, left as a zombie, or its pid reused by another program.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasExited } from '../../daemon/cli/client.js';
import { runCli, useCliHome, waitFor, type CliHome } from './helpers.js';

let cli: CliHome;
const children: ChildProcess[] = [];

useCliHome('bastionless-stale-pid-', (created) => {
  cli = created;
});

afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
  }
});

function pidFile(): string {
  return join(cli.home, 'state', 'daemon.pid');
}

/** Writes a pid file an hour old, so the probe does not take it for a daemon that is starting. */
function writeOldPidFile(pid: number): void {
  mkdirSync(join(cli.home, 'state'), { recursive: true });
  writeFileSync(pidFile(), `${pid}\n`);
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(pidFile(), hourAgo, hourAgo);
}

/**
 * Starts a process that never reaps its children and returns the pid of a child killed with
 * SIGKILL, which stays a zombie: `sh` starts `sleep 60` and then becomes `sleep 120` by exec.
 */
async function spawnZombie(): Promise<number> {
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 120'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(parent);
  const [line] = (await new Promise<Buffer>((resolve) => parent.stdout!.once('data', resolve)))
    .toString('utf8')
    .split('\n');
  const pid = Number(line);
  process.kill(pid, 'SIGKILL');
  await waitFor('the SIGKILL of the child', async () => (hasExited(pid) ? true : undefined), 5000);
  return pid;
}

function staleLine(pid: number): string {
  return (
    `the pid file ${pidFile()} is stale: the daemon (pid ${pid}) exited without removing it, ` +
    'e.g. after kill -9. `bastionless start` replaces the file'
  );
}

describe('bastionless status with a stale pid file', () => {
  it('reports a daemon killed with SIGKILL', { timeout: 90_000 }, async () => {
    const started = await runCli(['start'], cli.env, 60_000);
    expect(started.code).toBe(0);
    const pid = Number(readFileSync(pidFile(), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await waitFor('the exit of the daemon', async () => (hasExited(pid) ? true : undefined), 5000);
    // A daemon that ran for a while has an old pid file, and a fresh one reads as starting.
    writeOldPidFile(pid);

    const status = await runCli(['status'], cli.env);
    expect(status.code).toBe(1);
    expect(status.stdout).toBe('');
    expect(status.stderr).toBe(
      'bastionless: the daemon is not running; start it with `bastionless start`\n' +
        `${staleLine(pid)}\n`,
    );

    const restarted = await runCli(['start'], cli.env, 60_000);
    expect(restarted.code).toBe(0);
    expect(Number(readFileSync(pidFile(), 'utf8').trim())).not.toBe(pid);
  });

  it.runIf(process.platform === 'linux')('calls a zombie pid stale', async () => {
    const zombie = await spawnZombie();
    expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z /);
    writeOldPidFile(zombie);

    for (const command of ['status', 'up']) {
      const result = await runCli(command === 'up' ? ['up', 'web'] : [command], cli.env);
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toContain(staleLine(zombie));
      expect(result.stderr, command).not.toContain('is not a bastionless daemon');
    }
  });

  it('calls an exited pid stale', async () => {
    const exited = spawn('true', { stdio: 'ignore' });
    await new Promise((resolve) => exited.once('exit', resolve));
    writeOldPidFile(exited.pid!);

    const status = await runCli(['status'], cli.env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(staleLine(exited.pid!));
  });

  it('names a reused pid as another program', async () => {
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    children.push(sleeper);
    writeOldPidFile(sleeper.pid!);

    const status = await runCli(['status'], cli.env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(
      `process ${sleeper.pid} in ${pidFile()} is not a bastionless daemon`,
    );
    expect(status.stderr).not.toContain('is stale');
    expect(existsSync(pidFile())).toBe(true);
  });
});

describe('bastionless stop with a stale pid file', () => {
  it.runIf(process.platform === 'linux')('calls a zombie pid stale', async () => {
    const zombie = await spawnZombie();
    writeOldPidFile(zombie);

    const stop = await runCli(['stop'], cli.env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(
      `the daemon is not running; the pid file ${pidFile()} is stale (pid ${zombie} exited ` +
        'without removing it), and `bastionless start` replaces it\n',
    );
  });

  it('leaves another program alone', async () => {
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    children.push(sleeper);
    writeOldPidFile(sleeper.pid!);

    const stop = await runCli(['stop'], cli.env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(
      `process ${sleeper.pid} in ${pidFile()} is not a bastionless daemon`,
    );
    expect(sleeper.exitCode).toBeNull();
    expect(sleeper.signalCode).toBeNull();
  });
});

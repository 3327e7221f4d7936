// `ssh -L` baseline: a private OpenSSH server on 127.0.0.1 with throwaway keys, and an
// ssh client forwarding a local port through it to the bench target server.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { stopChild as stop } from './child.js';
import { freePort, waitForPort } from './net-util.js';

export interface SshTunnel {
  /** Local port that forwards to the target through sshd. */
  port: number;
  /** OpenSSH version line, e.g. "OpenSSH_9.2p1 Debian-2+deb12u3". */
  version: string;
  /** First cipher the client offers (`ssh -G`); sshd from the same package accepts it. */
  ciphers: string;
  close(): Promise<void>;
}

function keygen(path: string): void {
  const result = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  if (result.status !== 0) {
    throw new Error(`ssh-keygen failed for ${path}: ${result.stderr.toString()}`);
  }
}

function writeSshdConfig(dir: string, port: number): void {
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
}

function sshClientArgs(
  dir: string,
  sshdPort: number,
  localPort: number,
  targetPort: number,
): string[] {
  return [
    '-N',
    '-L',
    `127.0.0.1:${localPort}:127.0.0.1:${targetPort}`,
    '-i',
    join(dir, 'client_key'),
    '-p',
    String(sshdPort),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'LogLevel=ERROR',
    `${userInfo().username}@127.0.0.1`,
  ];
}

/** Starts sshd and `ssh -N -L` to 127.0.0.1:`targetPort`; throws if OpenSSH is missing. */
export async function startSshTunnel(targetPort: number): Promise<SshTunnel> {
  const sshd = spawnSync('sh', ['-c', 'command -v sshd || ls /usr/sbin/sshd']);
  const sshdPath = sshd.stdout.toString().trim().split('\n')[0];
  if (sshd.status !== 0 || !sshdPath) {
    throw new Error('sshd not found: install it with `apt-get install -y openssh-server`');
  }
  const dir = mkdtempSync(join(tmpdir(), 'bastionless-bench-ssh-'));
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
  // sshd refuses to start as root without its privilege separation directory, which the
  // Debian package creates only from its service unit.
  if (process.getuid?.() === 0) {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  }
  const sshdPort = await freePort();
  writeSshdConfig(dir, sshdPort);
  const server = spawn(sshdPath, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverErrors = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    serverErrors += chunk.toString();
  });
  const localPort = await freePort();
  const clientArgs = sshClientArgs(dir, sshdPort, localPort, targetPort);
  let client: ChildProcess | undefined;
  try {
    await waitForPort(sshdPort, 5000);
    client = spawn('ssh', clientArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForPort(localPort, 10_000);
  } catch (error) {
    if (client) {
      await stop(client);
    }
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `ssh -L baseline failed to start: ${(error as Error).message}. sshd stderr: ${serverErrors}`,
    );
  }
  const version = spawnSync('ssh', ['-V']).stderr.toString().trim();
  const config = spawnSync('ssh', [
    '-G',
    ...clientArgs.slice(0, -1),
    '127.0.0.1',
  ]).stdout.toString();
  const ciphers = /^ciphers (.*)$/m.exec(config)?.[1]?.split(',')[0] ?? 'unknown';
  const sshClient = client;
  return {
    port: localPort,
    version,
    ciphers,
    async close() {
      await stop(sshClient);
      await stop(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

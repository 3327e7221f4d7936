// The SSM emulator as a child process (`npm run emulator` from source), so a test can kill
// it with SIGKILL and start it again on the same port.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { REPO_ROOT } from './daemon-process.js';
import { SUITE_DIR_ENV, suiteDir } from '../../helpers/suite-secrets.js';

export interface EmulatorProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Reads a control route of the emulator, e.g. `/_emulator/sessions`. */
  control<T>(path: string): Promise<T>;
  kill(): Promise<void>;
}

/** Starts the emulator on `port` of 127.0.0.1 and resolves once it listens. */
export async function startEmulatorProcess(
  port: number,
  scenarioFile?: string,
): Promise<EmulatorProcess> {
  const args = ['--import', 'tsx', 'test/emulator/main.ts', '--port', String(port), '--no-pacing'];
  if (scenarioFile !== undefined) {
    args.push('--scenario', scenarioFile);
  }
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    // The suite directory lets the emulator record the session tokens it issues.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(suiteDir() ? { [SUITE_DIR_ENV]: suiteDir() } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`emulator did not listen on port ${port} within 20 s:\n${text}`)),
      20_000,
    );
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('SSM emulator listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code} before listening:\n${text}`));
    });
  });
  const exited = once(child, 'exit');
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  await listening;
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    output: () => text,
    async control<T>(path: string) {
      const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as T;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
  }
});

/** Starts the emulator program and resolves with its URL once it prints the ready line. */
async function runEmulator(
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/emulator/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ready line in 20 s; output: ${output}`)),
      20_000,
    );
    const check = () => {
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match && /Managed instances/.test(output)) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output };
}

describe('emulator program', () => {
  it('serves the default instances and stops on SIGINT', async () => {
    const { child, url, output } = await runEmulator(['--port', '0', '--no-pacing']);
    expect(output()).toMatch(/AWS_ACCESS_KEY_ID=/);
    const ssm = new SSMClient({
      region: 'us-east-1',
      endpoint: url,
      credentials: { accessKeyId: 'AKIAANY', secretAccessKey: 'any' },
    });
    const listed = await ssm.send(new DescribeInstanceInformationCommand({}));
    expect(listed.InstanceInformationList!.length).toBeGreaterThanOrEqual(2);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('loads a scenario file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emulator-scenario-'));
    const file = join(dir, 'scenario.json');
    await writeFile(
      file,
      JSON.stringify({
        credentials: [{ accessKeyId: 'AKIASCENARIO', secretAccessKey: 'scenario-secret' }],
        instances: [{ instanceId: 'mi-0123456789abcdef0', tags: { Name: 'onprem' } }],
      }),
    );
    const { url, output } = await runEmulator(['--scenario', file]);
    expect(output()).toMatch(/AWS_ACCESS_KEY_ID=AKIASCENARIO/);
    const ssm = new SSMClient({
      region: 'us-east-1',
      endpoint: url,
      credentials: { accessKeyId: 'AKIASCENARIO', secretAccessKey: 'scenario-secret' },
    });
    const listed = await ssm.send(new DescribeInstanceInformationCommand({}));
    expect(listed.InstanceInformationList!.map((i) => i.InstanceId)).toEqual([
      'mi-0123456789abcdef0',
    ]);
    expect(listed.InstanceInformationList![0]!.ResourceType).toBe('ManagedInstance');
  });

  it('rejects an invalid port', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/emulator/main.ts', '--port', 'abc'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid --port abc/);
  });
});

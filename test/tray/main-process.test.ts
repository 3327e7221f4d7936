// Runs the bundled Electron main process under plain Node with a stand-in `electron` module,
// because Electron is often not installed where the tests run. It checks the wiring: tray menu from
// the daemon's tunnels, notifications, the dashboard window's security settings, menu actions
// reaching the daemon, the MFA dialog, and quitting without stopping a daemon the tray did not
// start.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunnelStatus, waitFor } from '../ui/fixtures.js';
import { startFakeDaemon, type FakeDaemon } from './fake-daemon.js';

const ROOT = join(import.meta.dirname, '..', '..');
const sandbox = mkdtempSync(join(tmpdir(), 'bastionless-main-'));
const home = join(sandbox, 'home');
const logFile = join(sandbox, 'electron-calls.jsonl');
const mainBundle = join(sandbox, 'app', 'dist', 'electron', 'main.cjs');
let daemon: FakeDaemon;

interface Call {
  call: string;
  [key: string]: unknown;
}

function calls(): Call[] {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Call);
}

function callsNamed(name: string): Call[] {
  return calls().filter((entry) => entry.call === name);
}

function startMain(extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [mainBundle], {
    env: {
      ...process.env,
      BASTIONLESS_HOME: home,
      FAKE_ELECTRON_LOG: logFile,
      // A daemon that the tray must not start: the fake daemon is already running.
      BASTIONLESS_DAEMON_ARGS: JSON.stringify(['-e', 'process.exit(3)']),
      ...extraEnv,
    },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  return child;
}

beforeAll(async () => {
  const bundle = spawnSync(
    process.execPath,
    [join(ROOT, 'electron', 'launch.mjs'), '--bundle-only'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(bundle.status, bundle.stderr).toBe(0);
  // The bundle and the stand-in module sit in a folder of their own, so a real Electron
  // installed in the repository is never picked up instead.
  mkdirSync(join(sandbox, 'app', 'dist', 'electron'), { recursive: true });
  copyFileSync(join(ROOT, 'dist', 'electron', 'main.cjs'), mainBundle);
  expect(existsSync(join(ROOT, 'dist', 'electron', 'mfa-preload.cjs'))).toBe(true);
  expect(existsSync(join(ROOT, 'dist', 'electron', 'mfa-dialog', 'index.html'))).toBe(true);
  expect(existsSync(join(ROOT, 'dist', 'electron', 'mfa-dialog', 'renderer.js'))).toBe(true);
  const fakeModule = join(sandbox, 'app', 'node_modules', 'electron');
  mkdirSync(fakeModule, { recursive: true });
  copyFileSync(join(import.meta.dirname, 'fake-electron.cjs'), join(fakeModule, 'index.js'));
  writeFileSync(
    join(fakeModule, 'package.json'),
    JSON.stringify({ name: 'electron', main: 'index.js' }),
  );

  daemon = await startFakeDaemon(join(home, 'state'), 'tray-token');
  daemon.tunnels.push(
    tunnelStatus({ name: 'db', groups: ['prod'], state: 'open', localAddress: '127.0.0.1:15432' }),
  );
});

afterAll(async () => {
  await daemon?.close();
  rmSync(sandbox, { recursive: true, force: true });
});

describe('electron main process', () => {
  it('quits as a second instance', async () => {
    const child = startMain({ FAKE_ELECTRON_SECOND_INSTANCE: '1' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(callsNamed('app.quit')).toHaveLength(1);
    expect(callsNamed('new Tray')).toHaveLength(0);
    rmSync(logFile, { force: true });
  });

  it('drives tray, window and daemon', async () => {
    const child = startMain();
    try {
      const menu = await waitFor(() =>
        callsNamed('tray.setContextMenu').find((entry) =>
          (entry.items as { id?: string }[]).some((item) => item.id === 'tunnel:prod:db'),
        ),
      );
      const items = menu.items as { id?: string; label?: string; checked?: boolean }[];
      const db = items.find((item) => item.id === 'tunnel:prod:db');
      expect(db?.label).toBe('db (127.0.0.1:15432): Open');
      expect(db?.checked).toBe(true);
      expect(callsNamed('tray.setImage').at(-1)?.image).toMatch(/tray-ok(Template)?\.png$/);
      expect(callsNamed('ipcMain.handle')[0]?.channel).toBe('bastionless:open-config-file');

      // Notifications need the websocket; keep pushing until the tray has subscribed.
      await waitFor(() => {
        daemon.pushState(
          tunnelStatus({
            name: 'db',
            groups: ['prod'],
            state: 'open',
            localAddress: '127.0.0.1:15432',
          }),
        );
        daemon.pushState(tunnelStatus({ name: 'db', groups: ['prod'], state: 'failed' }));
        return callsNamed('notification').length > 0;
      });
      expect(callsNamed('notification')[0].title).toBe('Tunnel db failed');

      child.stdin!.write('click tunnel:prod:db\n');
      await waitFor(() => daemon.requests.includes('POST /v1/tunnels/db/start'));

      child.stdin!.write('click open-dashboard\n');
      const load = await waitFor(() => callsNamed('window.loadURL')[0]);
      expect(load.url).toBe(`http://127.0.0.1:${daemon.port}/#token=tray-token`);
      const window = callsNamed('new BrowserWindow')[0];
      expect(window.webPreferences).toMatchObject({
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
        webSecurity: true,
      });
      // The stand-in writes the loadURL line before the navigation guard lines, so wait for the
      // last line of that sequence.
      await waitFor(() => callsNamed('permission')[0]);
      const navigations = callsNamed('will-navigate');
      expect(navigations[0]).toMatchObject({ url: 'https://example.com/', blocked: true });
      expect(navigations[1]).toMatchObject({ blocked: false });
      expect(callsNamed('window.open')[0].result).toEqual({ action: 'deny' });
      expect(callsNamed('permission')[0].granted).toBe(false);

      child.stdin!.write('click edit-config\n');
      const opened = await waitFor(() => callsNamed('shell.openPath')[0]);
      expect(opened.path).toBe(join(home, 'config.json'));

      child.stdin!.write('click quit\n');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(callsNamed('app.exit')).toEqual([{ call: 'app.exit', code: 0 }]);
      expect(callsNamed('tray.destroy')).toHaveLength(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // The tray attached to a daemon it did not start, so the daemon still serves requests.
    const response = await fetch(`http://127.0.0.1:${daemon.port}/v1/tunnels`, {
      headers: { authorization: 'Bearer tray-token' },
    });
    expect(response.status).toBe(200);
  });

  it('asks for an MFA code in a dialog', async () => {
    rmSync(logFile, { force: true });
    const request = {
      id: 'mfa-1',
      profile: 'db',
      awsProfile: 'admin',
      mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
      requestedAt: new Date().toISOString(),
    };
    daemon.mfaRequests.push(request);
    daemon.mfaRejectedCodes.push('111111');
    const child = startMain();
    const results = () => callsNamed('ipc-result');
    const invoke = async (line: string) => {
      const before = results().length;
      child.stdin!.write(`${line}\n`);
      return waitFor(() => results()[before]);
    };
    try {
      // The pending request from GET /v1/mfa opens the dialog on attach.
      const load = await waitFor(() => callsNamed('window.loadFile')[0]);
      expect(load.path).toBe(join(sandbox, 'app', 'dist', 'electron', 'mfa-dialog', 'index.html'));
      const window = callsNamed('new BrowserWindow')[0];
      expect(window.title).toBe('bastionless: MFA code');
      expect(window.webPreferences).toMatchObject({
        preload: join(sandbox, 'app', 'dist', 'electron', 'mfa-preload.cjs'),
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
      });
      const navigation = await waitFor(() => callsNamed('will-navigate')[0]);
      expect(navigation).toMatchObject({ blocked: true });
      const menu = await waitFor(() =>
        callsNamed('tray.setContextMenu').find((entry) =>
          (entry.items as { id?: string }[]).some((item) => item.id === 'mfa:mfa-1'),
        ),
      );
      const item = (menu.items as { id?: string; label?: string }[]).find(
        (entry) => entry.id === 'mfa:mfa-1',
      );
      expect(item?.label).toBe('Enter MFA code for db…');

      const details = await invoke('invoke bastionless:mfa-request');
      expect(details.result).toMatchObject({ request, error: null, othersWaiting: 0 });

      const foreign = await invoke('invoke-foreign bastionless:mfa-submit ["mfa-1","493817"]');
      expect(foreign.result).toEqual({ ok: false, error: 'Only the MFA dialog may send codes.' });
      const malformed = await invoke('invoke bastionless:mfa-submit ["mfa-1","49a817"]');
      expect(malformed.result).toEqual({
        ok: false,
        error: 'Enter the 6 digits your MFA device shows.',
      });
      const rejected = await invoke('invoke bastionless:mfa-submit ["mfa-1","111111"]');
      expect(rejected.result).toEqual({
        ok: false,
        error: 'The daemon rejected the code: code must be the 6 digits the MFA device shows.',
      });
      expect(daemon.mfaAnswers).toEqual([]);
      const again = await invoke('invoke bastionless:mfa-request');
      expect((again.result as { error: string }).error).toContain('The daemon rejected the code');

      const accepted = await invoke('invoke bastionless:mfa-submit ["mfa-1","493 817"]');
      expect(accepted.result).toEqual({ ok: true });
      expect(daemon.mfaAnswers).toEqual([{ id: 'mfa-1', code: '493817' }]);
      await waitFor(() => callsNamed('window.close').length === 1);

      // A dialog the user closes stays reachable from the menu and does not pop up again.
      daemon.requireMfa({ ...request, id: 'mfa-2', profile: 'cache' });
      await waitFor(() => callsNamed('window.loadFile').length === 2);
      child.stdin!.write('close-window\n');
      await waitFor(() =>
        callsNamed('tray.setContextMenu').some((entry) =>
          (entry.items as { id?: string }[]).some((entry) => entry.id === 'mfa:mfa-2'),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(callsNamed('window.loadFile')).toHaveLength(2);
      child.stdin!.write('click mfa:mfa-2\n');
      await waitFor(() => callsNamed('window.loadFile').length === 3);

      // mfa-settled from the daemon, e.g. after `bastionless mfa CODE`, closes the dialog.
      const closedBefore = callsNamed('window.close').length;
      daemon.settleMfa('mfa-2', 'answered');
      await waitFor(() => callsNamed('window.close').length === closedBefore + 1);
      await waitFor(() => {
        const items = callsNamed('tray.setContextMenu').at(-1)?.items as { id?: string }[];
        return items.every((entry) => !entry.id?.startsWith('mfa:'));
      });

      child.stdin!.write('click quit\n');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      daemon.mfaRequests.splice(0);
      daemon.mfaRejectedCodes.splice(0);
    }
  });
});

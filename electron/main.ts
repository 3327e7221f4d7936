// Electron main process: OS integration only (tray icon, menu, dashboard window,
// notifications, login item). Everything it decides with comes from electron/model, which
// has no Electron imports and is tested with vitest.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { resolvePaths } from '../daemon/paths.js';
import { ApiClient } from '../ui/src/lib/api.js';
import type { WebSocketLike } from '../ui/src/lib/events.js';
import type { MfaRequest, TunnelStatus } from '../ui/src/lib/types.js';
import type { BrowserWindowInstance, ElectronMain, MenuItemOptions } from './electron-api.js';
import { DaemonClient, discoverDaemon, type DaemonEndpoint } from './model/daemon-client.js';
import { DaemonLauncher, type DaemonProcess } from './model/daemon-launcher.js';
import { buildTrayMenu, type MenuAction, type MenuItemModel } from './model/menu.js';
import { MfaPromptQueue } from './model/mfa-prompts.js';
import { NotificationPolicy } from './model/notifications.js';
import { trayIconFile, trayIconState, trayTooltip } from './model/tray-icon.js';
import { MfaWindow } from './mfa-window.js';

// Loaded with require() so this file type-checks where Electron is not installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const electron = require('electron') as ElectronMain;
const { app, BrowserWindow, Menu, Notification, Tray, nativeImage, shell, ipcMain } = electron;

// launch.mjs bundles this file to dist/electron/main.cjs in the repository.
const REPO_ROOT = join(__dirname, '..', '..');
const ICON_DIR = join(REPO_ROOT, 'electron', 'icons');
const paths = resolvePaths();

/** Arguments that run the daemon in the foreground with Electron acting as Node. */
function daemonArgs(): string[] {
  const fromLauncher = process.env.BASTIONLESS_DAEMON_ARGS;
  if (fromLauncher) return JSON.parse(fromLauncher) as string[];
  return [join(REPO_ROOT, 'bin', 'bastionless.js'), 'daemon'];
}

function spawnDaemon(): DaemonProcess {
  const child = spawn(process.execPath, daemonArgs(), {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: 'ignore',
  });
  return { pid: child.pid, kill: (signal) => child.kill(signal), exited: once(child, 'exit') };
}

async function probe(endpoint: DaemonEndpoint): Promise<boolean> {
  try {
    await new ApiClient({
      baseUrl: endpoint.url,
      token: endpoint.token,
      timeoutMs: 2_000,
    }).listTunnels();
    return true;
  } catch {
    return false;
  }
}

const discover = () => discoverDaemon(paths);
const launcher = new DaemonLauncher({ discover, probe, spawnDaemon });
const client = new DaemonClient({
  discover,
  createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
});
const notifications = new NotificationPolicy();
const loginItemSupported = process.platform === 'darwin' || process.platform === 'win32';
const mfaQueue = new MfaPromptQueue();
let mfaWindow: MfaWindow | null = null;
let tray: InstanceType<ElectronMain['Tray']> | null = null;
let dashboard: BrowserWindowInstance | null = null;
let quitting = false;

function icon(file: string) {
  const image = nativeImage.createFromPath(join(ICON_DIR, file));
  if (process.platform === 'darwin') image.setTemplateImage(true);
  return image;
}

function refreshTray(): void {
  if (!tray) return;
  const tunnels = client.list();
  const state = trayIconState(tunnels, client.reachable);
  tray.setImage(icon(trayIconFile(state, process.platform)));
  tray.setToolTip(trayTooltip(state));
  const model = buildTrayMenu({
    tunnels,
    daemonReachable: client.reachable,
    startAtLogin: loginItemSupported && app.getLoginItemSettings().openAtLogin,
    loginItemSupported,
    mfaRequests: mfaQueue.pending(),
  });
  tray.setContextMenu(Menu.buildFromTemplate(model.map(toElectronItem)));
}

function toElectronItem(item: MenuItemModel): MenuItemOptions {
  if (item.type === 'separator') return { type: 'separator' };
  const action = item.action;
  return {
    type: item.type,
    id: item.id,
    label: item.label,
    enabled: item.enabled,
    checked: item.checked,
    click: action ? () => void runAction(action) : undefined,
  };
}

async function runAction(action: MenuAction): Promise<void> {
  const api = client.api;
  try {
    switch (action.kind) {
      case 'start-tunnel':
        await api?.tunnelAction(action.name, 'start');
        break;
      case 'stop-tunnel':
        await api?.tunnelAction(action.name, 'stop');
        break;
      case 'start-group':
        await api?.groupAction(action.group, 'start');
        break;
      case 'stop-group':
        await api?.groupAction(action.group, 'stop');
        break;
      case 'start-daemon':
        await launcher.ensureRunning();
        await client.retryNow();
        break;
      case 'open-dashboard':
        openDashboard();
        break;
      case 'enter-mfa-code':
        if (mfaQueue.reopen(action.id)) mfaWindow?.sync();
        break;
      case 'edit-config':
        await openConfigFile();
        break;
      case 'set-start-at-login':
        app.setLoginItemSettings({ openAtLogin: action.enabled });
        break;
      case 'quit':
        app.quit();
        return;
    }
  } catch (error) {
    notify('bastionless', `${(error as Error).message}`);
  }
  refreshTray();
}

async function openConfigFile(): Promise<string> {
  const problem = await shell.openPath(paths.configFile);
  if (problem) notify('Could not open the config file', `${paths.configFile}: ${problem}`);
  return problem;
}

function notify(title: string, body: string): void {
  if (!Notification.isSupported()) return;
  new Notification({ title, body, icon: join(ICON_DIR, 'app.png') }).show();
}

/** Opens the dashboard, confined to the daemon's own origin. */
function openDashboard(): void {
  const endpoint = client.endpoint;
  if (!endpoint) return;
  if (dashboard && !dashboard.isDestroyed()) {
    dashboard.show();
    dashboard.focus();
    return;
  }
  const window = new BrowserWindow({
    width: 1100,
    height: 800,
    title: 'bastionless',
    icon: join(ICON_DIR, 'app.png'),
    webPreferences: {
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  });

  const origin = new URL(endpoint.url).origin;
  window.webContents.on('will-navigate', (event, url) => {
    if (new URL(url).origin !== origin) event.preventDefault();
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.session.setPermissionRequestHandler((_contents, _permission, callback) =>
    callback(false),
  );

  window.on('closed', () => (dashboard = null));
  // The token travels in the fragment, which is never sent to the server or logged by it.
  void window.loadURL(`${endpoint.url}/#token=${encodeURIComponent(endpoint.token)}`);
  dashboard = window;
}

function onState(status: TunnelStatus): void {
  const notification = notifications.observe(status);
  if (notification) notify(notification.title, notification.body);
}

/** Shows the MFA dialog the queue picks and lists every pending request in the menu. */
function onMfaChange(): void {
  mfaWindow?.sync();
  refreshTray();
}

function watchMfaRequests(): void {
  mfaWindow = new MfaWindow({
    electron,
    queue: mfaQueue,
    pageFile: join(__dirname, 'mfa-dialog', 'index.html'),
    preloadFile: join(__dirname, 'mfa-preload.cjs'),
    iconFile: join(ICON_DIR, 'app.png'),
    sendCode: async (id, code) => {
      const api = client.api;
      if (!api) throw new Error('the daemon is not reachable');
      await api.answerMfaRequest(id, code);
    },
    onQueueChange: refreshTray,
  });
  client.on('mfa-requests', (requests: MfaRequest[]) => {
    mfaQueue.replaceAll(requests);
    onMfaChange();
  });
  client.on('mfa-required', (request: MfaRequest) => {
    mfaQueue.add(request);
    onMfaChange();
  });
  client.on('mfa-settled', (request: MfaRequest) => {
    mfaQueue.settle(request.id);
    onMfaChange();
  });
}

async function start(): Promise<void> {
  await app.whenReady();
  app.dock?.hide();
  ipcMain.handle('bastionless:open-config-file', () => openConfigFile());
  tray = new Tray(icon(trayIconFile('offline', process.platform)));
  client.on('tunnels', refreshTray);
  client.on('reachable', refreshTray);
  client.on('state', onState);
  // A profile deleted and later added again under its name starts with no notification history.
  client.on('removed', (name: string) => notifications.forget(name));
  watchMfaRequests();
  refreshTray();
  try {
    await launcher.ensureRunning();
  } catch (error) {
    notify('The bastionless daemon did not start', (error as Error).message);
  }
  client.start();
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', openDashboard);
  // The tray keeps running with no window open.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    client.stop();
    mfaWindow?.close();
    // A daemon this tray did not start keeps running for the CLI and other clients.
    void launcher.shutdown().finally(() => {
      tray?.destroy();
      app.exit(0);
    });
  });
  void start();
}

// A stand-in for the `electron` module, for running the bundled main process under plain Node
// where Electron cannot be installed. It appends every call main.ts makes to the JSON-lines
// file in FAKE_ELECTRON_LOG, and reads commands on stdin, one a line:
// - `click <id>` clicks the menu item <id>;
// - `invoke <channel> [JSON array of arguments]` calls an ipcMain.handle listener as the newest
//   window's page would, and logs the result as `ipc-result`;
// - `invoke-foreign <channel> [...]` does the same from a page that is no window of the app;
// - `close-window` closes the newest window as its user would.
'use strict';

// This file replaces a CommonJS package, so it loads its own dependencies with require().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fs = require('node:fs');

function log(entry) {
  fs.appendFileSync(process.env.FAKE_ELECTRON_LOG, `${JSON.stringify(entry)}\n`);
}

const appListeners = {};
const ipcHandlers = {};
const windows = [];
let menuItems = [];

function emitBeforeQuit() {
  const event = { prevented: false, preventDefault: () => (event.prevented = true) };
  for (const listener of appListeners['before-quit'] ?? []) listener(event);
  return event.prevented;
}

const app = {
  requestSingleInstanceLock: () => process.env.FAKE_ELECTRON_SECOND_INSTANCE !== '1',
  whenReady: () => Promise.resolve(),
  quit() {
    log({ call: 'app.quit' });
    if (!emitBeforeQuit()) process.exit(0);
  },
  exit(code) {
    log({ call: 'app.exit', code });
    process.exit(code ?? 0);
  },
  on: (event, listener) => (appListeners[event] ??= []).push(listener),
  getLoginItemSettings: () => ({ openAtLogin: false }),
  setLoginItemSettings: (settings) => log({ call: 'app.setLoginItemSettings', settings }),
};

const image = (path) => ({ path, isEmpty: () => false, setTemplateImage() {} });

class Tray {
  constructor(icon) {
    log({ call: 'new Tray', image: icon.path });
  }
  setImage(icon) {
    log({ call: 'tray.setImage', image: icon.path });
  }
  setToolTip(text) {
    log({ call: 'tray.setToolTip', text });
  }
  setContextMenu(menu) {
    menuItems = menu.items;
    log({
      call: 'tray.setContextMenu',
      items: menu.items.map(({ click: _click, ...rest }) => rest),
    });
  }
  destroy() {
    log({ call: 'tray.destroy' });
  }
}

class BrowserWindow {
  constructor(options) {
    log({
      call: 'new BrowserWindow',
      title: options.title,
      webPreferences: options.webPreferences,
    });
    windows.push(this);
    this.title = options.title;
    this.destroyed = false;
    this.listeners = {};
    this.handlers = {};
    this.webContents = {
      on: (event, listener) => (this.handlers[event] = listener),
      setWindowOpenHandler: (handler) => (this.openHandler = handler),
      session: { setPermissionRequestHandler: (handler) => (this.permissionHandler = handler) },
    };
  }
  loadURL(url) {
    log({ call: 'window.loadURL', url });
    // Exercise the guards main.ts installed, with no network involved.
    for (const target of ['https://example.com/', new URL('/other', url).href]) {
      const event = { prevented: false, preventDefault: () => (event.prevented = true) };
      this.handlers['will-navigate'](event, target);
      log({ call: 'will-navigate', url: target, blocked: event.prevented });
    }
    log({ call: 'window.open', result: this.openHandler({ url: 'https://example.com/' }) });
    this.permissionHandler(null, 'geolocation', (granted) => log({ call: 'permission', granted }));
    return Promise.resolve();
  }
  loadFile(path) {
    log({ call: 'window.loadFile', path });
    const event = { prevented: false, preventDefault: () => (event.prevented = true) };
    this.handlers['will-navigate'](event, 'file:///etc/passwd');
    log({ call: 'will-navigate', url: 'file:///etc/passwd', blocked: event.prevented });
    return Promise.resolve();
  }
  show() {}
  focus() {}
  close() {
    if (this.destroyed) return;
    log({ call: 'window.close', title: this.title });
    this.destroyed = true;
    for (const listener of this.listeners.closed ?? []) listener();
  }
  isDestroyed() {
    return this.destroyed;
  }
  on(event, listener) {
    (this.listeners[event] ??= []).push(listener);
  }
}

class Notification {
  static isSupported() {
    return true;
  }
  constructor(options) {
    this.options = options;
  }
  show() {
    log({ call: 'notification', title: this.options.title, body: this.options.body });
  }
}

function invoke(line, sender) {
  const [, channel, args] = /^\S+ (\S+)(?: (.*))?$/.exec(line) ?? [];
  const handler = ipcHandlers[channel];
  if (!handler) {
    log({ call: 'ipc-result', channel, error: 'no handler' });
    return;
  }
  Promise.resolve(handler({ sender }, ...(args ? JSON.parse(args) : []))).then(
    (result) => log({ call: 'ipc-result', channel, result }),
    (error) => log({ call: 'ipc-result', channel, error: String(error) }),
  );
}

function newestWindow() {
  return windows.filter((window) => !window.destroyed).at(-1);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('invoke ')) invoke(line, newestWindow()?.webContents ?? null);
    if (line.startsWith('invoke-foreign ')) invoke(line, { id: 'foreign' });
    if (line === 'close-window') newestWindow()?.close();
    const id = /^click (.+)$/.exec(line)?.[1];
    const item = menuItems.find((entry) => entry.id === id);
    if (id) log({ call: 'click', id, found: Boolean(item?.click) });
    item?.click?.();
  }
});

module.exports = {
  app,
  Tray,
  BrowserWindow,
  Notification,
  Menu: { buildFromTemplate: (items) => ({ items }) },
  nativeImage: { createFromPath: image },
  shell: {
    openPath: async (path) => (log({ call: 'shell.openPath', path }), ''),
    openExternal: async () => undefined,
  },
  ipcMain: {
    handle(channel, listener) {
      ipcHandlers[channel] = listener;
      log({ call: 'ipcMain.handle', channel });
    },
  },
};

// Runs in the dashboard window before the page, with contextIsolation and the sandbox on. The
// bridge is deliberately narrow: the page talks to the daemon over HTTP as in a browser, and
// gets from the tray only what a browser tab cannot do.

interface PreloadElectron {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: { invoke(channel: string): Promise<string> };
}

// A sandboxed preload can require only a few modules, 'electron' among them, and the bundle is
// CommonJS, so require() is the way in.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer } = require('electron') as PreloadElectron;

contextBridge.exposeInMainWorld('bastionlessTray', {
  /** Opens the config file in the user's editor; resolves to an error message or ''. */
  openConfigFile: (): Promise<string> => ipcRenderer.invoke('bastionless:open-config-file'),
});

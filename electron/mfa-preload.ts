// Runs in the MFA dialog window before its page, with contextIsolation and the sandbox on. The
// page gets only its request and a way to send the code. The daemon's token and address stay in
// the main process, which also checks that each call came from this window.

import type { MfaBridge, MfaDialogView, MfaSubmitResult } from './model/mfa-prompts.js';

interface PreloadElectron {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: { invoke(channel: string, ...args: unknown[]): Promise<unknown> };
}

// A sandboxed preload can require only a few modules, 'electron' among them, and the bundle is
// CommonJS, so require() is the way in.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer } = require('electron') as PreloadElectron;

const bridge: MfaBridge = {
  request: () => ipcRenderer.invoke('bastionless:mfa-request') as Promise<MfaDialogView | null>,
  submitMfaCode: (id, code) =>
    ipcRenderer.invoke(
      'bastionless:mfa-submit',
      String(id),
      String(code),
    ) as Promise<MfaSubmitResult>,
};

contextBridge.exposeInMainWorld('bastionlessMfa', bridge);

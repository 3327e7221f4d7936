// The MFA dialog window of the tray: one small local page at a time, for the request that
// MfaPromptQueue picks. The page reaches the daemon only through the two IPC channels below,
// and only from the window this object opened.

import type { BrowserWindowInstance, ElectronMain, IpcMainInvokeEvent } from './electron-api.js';
import type { MfaPromptQueue, MfaSubmitResult } from './model/mfa-prompts.js';

export interface MfaWindowOptions {
  electron: Pick<ElectronMain, 'BrowserWindow' | 'ipcMain'>;
  queue: MfaPromptQueue;
  /** index.html of the bundled dialog page. */
  pageFile: string;
  /** Bundled electron/mfa-preload.ts. */
  preloadFile: string;
  iconFile: string;
  /** Posts `code` for request `id` to the daemon; rejects with the API error. */
  sendCode: (id: string, code: string) => Promise<void>;
  /** Called after the queue changed here, so the tray menu can follow. */
  onQueueChange: () => void;
}

export class MfaWindow {
  private window: BrowserWindowInstance | null = null;
  private shownId: string | null = null;

  constructor(private readonly options: MfaWindowOptions) {
    const { ipcMain } = options.electron;
    ipcMain.handle('bastionless:mfa-request', (event) =>
      this.fromDialog(event) && this.shownId ? options.queue.viewOf(this.shownId) : null,
    );
    ipcMain.handle('bastionless:mfa-submit', (event, id, code) =>
      this.fromDialog(event)
        ? this.submit(id, code)
        : { ok: false, error: 'Only the MFA dialog may send codes.' },
    );
  }

  /** Opens, switches or closes the dialog so it shows what the queue picks now. */
  sync(): void {
    const nextId = this.options.queue.dialog()?.request.id ?? null;
    const open = this.window !== null && !this.window.isDestroyed();
    if (open && nextId === this.shownId) return;
    this.closeWindow();
    if (nextId) this.openWindow(nextId);
  }

  /** Closes the dialog, e.g. when the tray quits. */
  close(): void {
    this.closeWindow();
  }

  private fromDialog(event: IpcMainInvokeEvent): boolean {
    const window = this.window;
    return window !== null && !window.isDestroyed() && event.sender === window.webContents;
  }

  private async submit(id: unknown, code: unknown): Promise<MfaSubmitResult> {
    const { queue } = this.options;
    if (id !== this.shownId) {
      return { ok: false, error: 'This dialog no longer shows that request.' };
    }
    const submission = queue.prepare(id, code);
    if (!submission.ok) return { ok: false, error: submission.error };
    try {
      await this.options.sendCode(submission.id, submission.code);
    } catch (error) {
      return { ok: false, error: queue.recordFailure(submission.id, error) };
    }
    // A 200 response settles the request; the daemon's `mfa-settled` event follows.
    queue.settle(submission.id);
    this.sync();
    this.options.onQueueChange();
    return { ok: true };
  }

  private openWindow(id: string): void {
    const { BrowserWindow } = this.options.electron;
    const window = new BrowserWindow({
      width: 420,
      height: 300,
      title: 'bastionless: MFA code',
      icon: this.options.iconFile,
      resizable: false,
      minimizable: false,
      maximizable: false,
      alwaysOnTop: true,
      autoHideMenuBar: true,
      webPreferences: {
        preload: this.options.preloadFile,
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
        webSecurity: true,
      },
    });
    // The page is a local file with no links, so any navigation or popup is unexpected.
    window.webContents.on('will-navigate', (event) => event.preventDefault());
    window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
    window.webContents.session.setPermissionRequestHandler((_contents, _permission, callback) =>
      callback(false),
    );
    window.on('closed', () => {
      if (this.window !== window) return;
      // Closed by the user: keep the request in the menu and move on to the next one.
      this.window = null;
      this.shownId = null;
      this.options.queue.dismiss(id);
      this.sync();
      this.options.onQueueChange();
    });
    this.window = window;
    this.shownId = id;
    void window.loadFile(this.options.pageFile).then(() => {
      if (!window.isDestroyed()) window.focus();
    });
  }

  private closeWindow(): void {
    const window = this.window;
    this.window = null;
    this.shownId = null;
    if (window && !window.isDestroyed()) window.close();
  }
}

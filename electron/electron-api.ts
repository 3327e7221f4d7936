// The part of Electron's main-process API (v40) that main.ts uses. Electron is an optional
// dependency that is often not installed where this repository type-checks, so main.ts loads
// it with require() and types it with these interfaces instead of Electron's own typings.

export interface NativeImage {
  isEmpty(): boolean;
  setTemplateImage(template: boolean): void;
}

export interface MenuItemOptions {
  type?: 'normal' | 'separator' | 'checkbox';
  id?: string;
  label?: string;
  enabled?: boolean;
  checked?: boolean;
  click?: () => void;
}

export interface WebContents {
  on(
    event: 'will-navigate',
    listener: (event: { preventDefault(): void }, url: string) => void,
  ): void;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  session: {
    setPermissionRequestHandler(
      handler: (
        contents: unknown,
        permission: string,
        callback: (granted: boolean) => void,
      ) => void,
    ): void;
  };
}

export interface BrowserWindowInstance {
  webContents: WebContents;
  loadURL(url: string): Promise<void>;
  /** Loads a file of the app, relative to the app's directory or absolute. */
  loadFile(path: string): Promise<void>;
  show(): void;
  focus(): void;
  close(): void;
  isDestroyed(): boolean;
  on(event: 'closed', listener: () => void): void;
}

export interface BrowserWindowOptions {
  width: number;
  height: number;
  title: string;
  icon?: string;
  show?: boolean;
  resizable?: boolean;
  minimizable?: boolean;
  maximizable?: boolean;
  alwaysOnTop?: boolean;
  autoHideMenuBar?: boolean;
  webPreferences: {
    preload: string;
    contextIsolation: boolean;
    nodeIntegration: boolean;
    sandbox: boolean;
    webSecurity: boolean;
  };
}

export interface TrayInstance {
  setImage(image: NativeImage): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  destroy(): void;
}

export interface NotificationInstance {
  show(): void;
}

/** The event of an `ipcMain.handle` listener; `sender` is the WebContents that invoked it. */
export interface IpcMainInvokeEvent {
  sender: unknown;
}

export interface ElectronMain {
  app: {
    requestSingleInstanceLock(): boolean;
    whenReady(): Promise<void>;
    quit(): void;
    exit(code?: number): void;
    on(event: 'second-instance' | 'window-all-closed', listener: () => void): void;
    on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): void;
    getLoginItemSettings(): { openAtLogin: boolean };
    setLoginItemSettings(settings: { openAtLogin: boolean }): void;
    dock?: { hide(): void };
  };
  BrowserWindow: new (options: BrowserWindowOptions) => BrowserWindowInstance;
  Tray: new (image: NativeImage) => TrayInstance;
  Menu: { buildFromTemplate(items: MenuItemOptions[]): unknown };
  Notification: (new (options: {
    title: string;
    body: string;
    icon?: string;
  }) => NotificationInstance) & {
    isSupported(): boolean;
  };
  nativeImage: { createFromPath(path: string): NativeImage };
  shell: { openPath(path: string): Promise<string>; openExternal(url: string): Promise<void> };
  ipcMain: {
    handle(
      channel: string,
      listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown,
    ): void;
  };
}

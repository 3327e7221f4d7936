/** Bridge that electron/preload.ts exposes when the dashboard runs inside the tray app. */
export interface TrayBridge {
  /** Opens the config file in the user's editor; resolves to an error message or ''. */
  openConfigFile(): Promise<string>;
}

/** Returns the tray's bridge, or null in a normal browser tab. */
export function trayBridge(): TrayBridge | null {
  const bridge = (window as { bastionlessTray?: TrayBridge }).bastionlessTray;
  return bridge && typeof bridge.openConfigFile === 'function' ? bridge : null;
}

// Errors raised while reading, validating and writing the config file.

export interface FieldIssue {
  /** Dotted path of the offending value, e.g. `profiles[0].localPort` or `localPort`. */
  path: string;
  message: string;
}

export type ConfigErrorCode =
  | 'ERR_CONFIG_PARSE'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_VERSION'
  | 'ERR_CONFIG_READ'
  | 'ERR_CONFIG_WRITE'
  | 'ERR_CONFIG_LOCKED'
  | 'ERR_CONFIG_MISSING'
  | 'ERR_PROFILE_INVALID'
  | 'ERR_PROFILE_EXISTS'
  | 'ERR_PROFILE_NOT_FOUND';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly fields: FieldIssue[];
  /**
   * The problem without the file name and the fix, e.g. `permission denied`, so a caller can
   * put it into a sentence of its own. Defaults to the message.
   */
  readonly reason: string;
  /**
   * The next step that ends the message after `; `, e.g. `fix it in an editor`, so a command
   * that would have written the file can state that it was left unchanged before it.
   */
  readonly fix: string | undefined;

  constructor(
    code: ConfigErrorCode,
    message: string,
    options: { fields?: FieldIssue[]; cause?: unknown; reason?: string; fix?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.fields = options.fields ?? [];
    this.reason = options.reason ?? message;
    this.fix = options.fix;
  }
}

// Errors the CLI prints as one sentence before exiting with a non-zero code.

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    /** Extra lines printed after the message, e.g. one per invalid field. */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

export function daemonNotRunning(): CliError {
  return new CliError('the daemon is not running; start it with `bastionless start`');
}

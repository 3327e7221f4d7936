// AWS API errors as the emulator returns them.

/**
 * An error the API layer turns into an AWS error body: `{"__type": type, "message": …}`
 * for JSON protocols, an `<ErrorResponse>` document for query protocols.
 */
export class AwsApiError extends Error {
  override readonly name = 'AwsApiError';
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

import { useState } from 'preact/hooks';
import type { ApiClient } from '../lib/api.js';
import { INVALID_MFA_CODE_MESSAGE, mfaSubmitErrorMessage, normalizeMfaCode } from '../lib/mfa.js';
import type { MfaRequest } from '../lib/types.js';

interface MfaPromptProps {
  api: ApiClient;
  /** Pending requests, oldest first; the prompt shows the first. */
  requests: readonly MfaRequest[];
  onAnswered: (id: string) => void;
}

/**
 * Prompts for the MFA code of the oldest pending request and posts it to the daemon. The code
 * field is cleared after every submission, so the page keeps no code once the request ends.
 */
export function MfaPrompt({ api, requests, onAnswered }: MfaPromptProps) {
  const request = requests[0];
  if (!request) return null;
  // A new key per request resets the field and the error when the prompt moves on.
  return (
    <MfaForm
      key={request.id}
      api={api}
      request={request}
      others={requests.length - 1}
      onAnswered={onAnswered}
    />
  );
}

interface MfaFormProps {
  api: ApiClient;
  request: MfaRequest;
  others: number;
  onAnswered: (id: string) => void;
}

function MfaForm({ api, request, others, onAnswered }: MfaFormProps) {
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const code = normalizeMfaCode(input);
    if (code === null) {
      setError(INVALID_MFA_CODE_MESSAGE);
      return;
    }
    setInput('');
    setSending(true);
    try {
      await api.answerMfaRequest(request.id, code);
      setError(null);
      onAnswered(request.id);
    } catch (failure) {
      setError(mfaSubmitErrorMessage(failure));
    } finally {
      setSending(false);
    }
  };

  const awsProfile = request.awsProfile ? ` (AWS profile ${request.awsProfile})` : '';
  const fieldId = `mfa-code-${request.id}`;
  return (
    <form
      class="banner mfa-prompt"
      role="dialog"
      aria-labelledby={`${fieldId}-title`}
      data-testid="mfa-prompt"
      data-request={request.id}
      onSubmit={(event) => void submit(event)}
    >
      <strong id={`${fieldId}-title`}>MFA code needed for tunnel {request.profile}</strong>
      <p>
        Tunnel {request.profile}
        {awsProfile} waits for a code from <code>{request.mfaSerial}</code>.
        {others > 0 && ` ${others} more ${others === 1 ? 'request waits' : 'requests wait'}.`}
      </p>
      <label for={fieldId}>Code from your MFA device</label>
      <div class="mfa-row">
        <input
          id={fieldId}
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={9}
          spellcheck={false}
          value={input}
          aria-invalid={error !== null}
          aria-describedby={error ? `${fieldId}-error` : undefined}
          onInput={(event) => setInput((event.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={sending}>
          Send code
        </button>
      </div>
      {error && (
        <p class="field-error" id={`${fieldId}-error`} role="alert" data-testid="mfa-error">
          {error}
        </p>
      )}
    </form>
  );
}

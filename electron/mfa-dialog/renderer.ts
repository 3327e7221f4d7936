// Script of the MFA dialog page. It talks only to `window.bastionlessMfa` (electron/mfa-preload.ts)
// and clears the code field after every submission, so the code stays in the page no longer
// than the request that sends it.

import { INVALID_MFA_CODE_MESSAGE, normalizeMfaCode } from '../../ui/src/lib/mfa.js';
import type { MfaBridge, MfaDialogView } from '../model/mfa-prompts.js';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`MFA dialog: element #${id} is missing from index.html`);
  return found as T;
}

const form = element<HTMLFormElement>('mfa-form');
const heading = element<HTMLHeadingElement>('heading');
const details = element<HTMLParagraphElement>('details');
const input = element<HTMLInputElement>('code');
const errorText = element<HTMLParagraphElement>('error');
const others = element<HTMLParagraphElement>('others');
const submit = element<HTMLButtonElement>('submit');
const cancel = element<HTMLButtonElement>('cancel');

function showError(message: string | null): void {
  errorText.textContent = message ?? '';
  errorText.hidden = message === null;
  input.setAttribute('aria-invalid', String(message !== null));
}

function render(view: MfaDialogView): void {
  const { request } = view;
  heading.textContent = `MFA code for ${request.profile}`;
  const awsProfile = request.awsProfile ? ` (AWS profile ${request.awsProfile})` : '';
  details.textContent =
    `Tunnel ${request.profile}${awsProfile} waits for a code from ${request.mfaSerial}, ` +
    `requested at ${new Date(request.requestedAt).toLocaleTimeString()}.`;
  others.textContent =
    view.othersWaiting === 1
      ? '1 more request waits after this one.'
      : `${view.othersWaiting} more requests wait after this one.`;
  others.hidden = view.othersWaiting === 0;
  showError(view.error);
}

async function start(bridge: MfaBridge): Promise<void> {
  const view = await bridge.request();
  if (!view) {
    details.textContent = 'This request was already answered or timed out.';
    submit.disabled = true;
    return;
  }
  render(view);
  input.focus();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const code = normalizeMfaCode(input.value);
    if (code === null) {
      showError(INVALID_MFA_CODE_MESSAGE);
      input.select();
      return;
    }
    input.value = '';
    submit.disabled = true;
    bridge
      .submitMfaCode(view.request.id, code)
      .then((result) => {
        // On success the main process closes this window once the daemon settles the request.
        showError(result.ok ? null : result.error);
      })
      .catch((error: unknown) => showError(`Sending the code failed: ${(error as Error).message}`))
      .finally(() => {
        submit.disabled = false;
        input.focus();
      });
  });
}

cancel.addEventListener('click', () => window.close());
const bridge = (window as { bastionlessMfa?: MfaBridge }).bastionlessMfa;
if (bridge) {
  start(bridge).catch((error: unknown) => {
    details.textContent = `Loading the request failed: ${(error as Error).message}`;
  });
} else {
  details.textContent = 'This page works only inside the bastionless tray app.';
  submit.disabled = true;
}

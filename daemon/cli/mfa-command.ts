// `mfa`: answer the oldest pending MFA code request of the daemon, and the prompt that
// `up` shows on a terminal while a tunnel waits for a code.

import { createInterface } from 'node:readline/promises';
import type { MfaRequest } from '../api/mfa.js';
import { parseCommandArgs } from './args.js';
import { DaemonClient } from './client.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError } from './errors.js';

const MFA_CODE_PATTERN = /^\d{6}$/;

/** Reads a code from the terminal. The code goes only to the daemon and is not stored. */
async function promptCode(request: MfaRequest): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(
      `MFA code for ${request.mfaSerial} (tunnel ${request.profile}): `,
    );
    return answer.trim();
  } finally {
    prompt.close();
  }
}

async function answer(client: DaemonClient, request: MfaRequest, code: string): Promise<void> {
  if (!MFA_CODE_PATTERN.test(code)) {
    throw new CliError(`invalid MFA code: use the 6 digits the device shows`);
  }
  await client.request('POST', `/v1/mfa/${encodeURIComponent(request.id)}`, { code });
  print(`MFA code sent for tunnel ${request.profile}`);
}

/**
 * Prompts on the terminal for every MFA request of the tunnels in `names` that appears within
 * `waitMs` milliseconds, so `bastionless up` can unlock an assume-role profile.
 */
export async function promptForMfa(
  client: DaemonClient,
  names: readonly string[],
  waitMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const pending = await client.request<MfaRequest[]>('GET', '/v1/mfa');
    const mine = pending.find((request) => names.includes(request.profile));
    if (mine) {
      await answer(client, mine, await promptCode(mine));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export const mfaCommand: Command = {
  name: 'mfa',
  summary: 'enter the MFA code a tunnel waits for',
  help: `Usage: bastionless mfa [CODE] [--config FILE]

Sends CODE, the 6 digits of the MFA device, to the oldest pending MFA request of the daemon.
Without CODE it lists the pending requests and, on a terminal, prompts for the code.

Examples:
  bastionless mfa
  bastionless mfa 123456`,
  async run(argv) {
    const args = parseCommandArgs('mfa', argv, {});
    const client = await DaemonClient.connect(pathsFor(args));
    const pending = await client.request<MfaRequest[]>('GET', '/v1/mfa');
    const oldest = pending[0];
    if (!oldest) {
      print('no MFA request pending');
      return 0;
    }
    const code = args.positionals[0];
    if (code !== undefined) {
      await answer(client, oldest, code);
      return 0;
    }
    for (const request of pending) {
      print(`${request.requestedAt}  ${request.profile}  ${request.mfaSerial}`);
    }
    if (!process.stdin.isTTY) {
      throw new CliError('no MFA code given; run `bastionless mfa CODE`');
    }
    await answer(client, oldest, await promptCode(oldest));
    return 0;
  },
};

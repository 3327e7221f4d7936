// Random mutations of a valid config file: loading must report a clear error or accept the
// result, never throw, and never rewrite the file. A running daemon watching the file must
// stay up through a series of broken edits.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../daemon/config/errors.js';
import { ConfigStore } from '../../daemon/config/store.js';
import {
  createTestHome,
  startDaemonProcess,
  waitFor,
  type DaemonProcess,
  type TestHome,
} from '../reliability/harness/daemon-process.js';

const VALID = {
  version: 2,
  profiles: [
    {
      name: 'orders-db',
      groups: ['prod'],
      region: 'us-east-1',
      target: 'i-0123456789abcdef0',
      remoteHost: 'rds:orders-db',
      remotePort: 5432,
      localPort: 15432,
      bindAddress: '127.0.0.1',
      sessionPool: 2,
      endpoints: { ssm: 'http://127.0.0.1:1' },
    },
    {
      name: 'cache',
      region: 'eu-west-1',
      target: { tags: { Name: 'x' } },
      remotePort: 6379,
      localPort: 16379,
    },
  ],
};
const VALID_TEXT = `${JSON.stringify(VALID, null, 2)}\n`;
const KNOWN_CODES = [
  'ERR_CONFIG_PARSE',
  'ERR_CONFIG_INVALID',
  'ERR_CONFIG_VERSION',
  'ERR_CONFIG_READ',
];

const dir = mkdtempSync(join(tmpdir(), 'bastionless-config-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Text-level mutations: flipped, deleted and inserted characters. */
const textMutation = fc
  .array(
    fc.record({
      kind: fc.constantFrom('flip', 'delete', 'insert'),
      at: fc.nat(),
      text: fc.string({ maxLength: 8 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((edits) => {
    let text = VALID_TEXT;
    for (const edit of edits) {
      const at = edit.at % Math.max(1, text.length);
      if (edit.kind === 'flip') {
        text =
          text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 0x15) + text.slice(at + 1);
      } else if (edit.kind === 'delete') {
        text = text.slice(0, at) + text.slice(at + 1 + (edit.text.length % 4));
      } else {
        text = text.slice(0, at) + edit.text + text.slice(at);
      }
    }
    return text;
  });

/** JSON-level mutations: one field of a profile or the document replaced by any JSON value. */
const valueMutation = fc
  .tuple(
    fc.constantFrom('version', 'profiles', ...Object.keys(VALID.profiles[0]!)),
    fc.nat({ max: 1 }),
    fc.jsonValue(),
  )
  .map(([key, index, value]) => {
    const document = structuredClone(VALID) as Record<string, unknown> & {
      profiles: Record<string, unknown>[];
    };
    if (key === 'version' || key === 'profiles') {
      (document as Record<string, unknown>)[key] = value;
    } else {
      document.profiles[index]![key] = value;
    }
    return JSON.stringify(document, null, 2);
  });

describe('config file under random mutations', () => {
  it('reports clear errors and leaves the file', { timeout: 60_000 }, () => {
    let rejected = 0;
    const file = join(dir, 'config.json');
    fc.assert(
      fc.property(fc.oneof(textMutation, valueMutation), (text) => {
        writeFileSync(file, text);
        const store = new ConfigStore({ file });
        store.load();
        const error = store.error;
        if (error !== null) {
          rejected += 1;
          expect(error).toBeInstanceOf(ConfigError);
          expect(KNOWN_CODES).toContain(error.code);
          // NOTE: ERR_CONFIG_VERSION names the bad value and the fix but not the file.
          if (error.code !== 'ERR_CONFIG_VERSION') {
            expect(error.message).toContain(file);
          }
          expect(error.message.length).toBeGreaterThan(10);
          expect(() => store.create({ ...VALID.profiles[1], name: 'added' })).toThrow(ConfigError);
        }
        expect(readFileSync(file, 'utf8')).toBe(text);
      }),
      { numRuns: 500 },
    );
    console.log(JSON.stringify({ mutations: 500, rejected }));
    expect(rejected).toBeGreaterThan(100);
  });
});

describe('daemon watching a config under broken edits', () => {
  let home: TestHome;
  let daemon: DaemonProcess | undefined;

  afterAll(async () => {
    await daemon?.stop();
    home?.remove();
  });

  it('stays up and never rewrites the file', { timeout: 90_000 }, async () => {
    home = createTestHome('config-fuzz');
    writeFileSync(home.configFile, VALID_TEXT);
    daemon = startDaemonProcess(home);
    await daemon.api();
    const samples = fc.sample(fc.oneof(textMutation, valueMutation), { numRuns: 15, seed: 7 });
    let reported = 0;
    for (const text of samples) {
      writeFileSync(home.configFile, text);
      // The store debounces watch events by 100 ms; give it time to read the edit.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const { status, body } = await daemon.request<{ configError: { code: string } | null }>(
        '/v1/status',
      );
      expect(status).toBe(200);
      if (body.configError !== null) {
        reported += 1;
        expect(KNOWN_CODES).toContain(body.configError.code);
      }
      expect(readFileSync(home.configFile, 'utf8')).toBe(text);
    }
    expect(daemon.child.exitCode).toBeNull();
    expect(reported).toBeGreaterThan(0);
    await waitFor('the daemon to answer after the edits', async () =>
      (await daemon!.request('/healthz')).status === 200 ? true : undefined,
    );
  });
});

// Local SSM emulator: the SSM API, the Session Manager service (MGS) and the SSM agent on
// 127.0.0.1, so the real AWS SDK and the daemon's data channel run against it unchanged.

import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerAwsRoutes } from './api/aws-router.js';
import { registerControlRoutes } from './api/control-routes.js';
import {
  createSsmHandlers,
  type SessionHost,
  type SessionTokenResponse,
  type StartSessionRequest,
} from './api/ssm.js';
import { attachDataChannelServer } from './datachannel-server.js';
import { AwsApiError } from './errors.js';
import { validateFaults, type Faults } from './faults.js';
import {
  DEFAULT_AGENT_VERSION,
  defaultScenario,
  loadScenarioFile,
  normalizeScenario,
  type Scenario,
} from './scenario.js';
import { EmulatedSession, type SessionTimingOptions } from './session.js';
import type { ApiCallRecord, EmulatorState, SessionRecord } from './state.js';
import { recordSecret } from '../helpers/suite-secrets.js';

export { AwsApiError } from './errors.js';
export type { Faults } from './faults.js';
export type { Scenario } from './scenario.js';
export type { ApiCallRecord, EmulatorState, SessionRecord } from './state.js';

export interface EmulatorOptions extends SessionTimingOptions {
  /** TCP port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** A scenario object or the path of a scenario JSON file. */
  scenario?: Partial<Scenario> | string;
  /** Sleep 1 ms after each 1 KiB agent message like the real agent; default true. */
  pacing?: boolean;
  /** Agent version of instances the scenario does not describe; default 3.3.987.0. */
  agentVersion?: string;
  logger?: Logger;
}

export class Emulator implements SessionHost {
  readonly state: EmulatorState;
  readonly defaultAgentVersion: string;
  private readonly runtimes = new Map<string, EmulatedSession>();
  private defaultFaults: Faults = {};
  private detachDataChannel: (() => void) | undefined;
  private port = 0;

  constructor(
    private readonly app: FastifyInstance,
    scenario: Scenario,
    private readonly options: EmulatorOptions,
  ) {
    this.defaultAgentVersion = options.agentVersion ?? DEFAULT_AGENT_VERSION;
    this.state = { scenario, calls: [], sessions: new Map() };
  }

  /** Base URL of the API, e.g. `http://127.0.0.1:43123`; pass it as the SDK `endpoint`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get calls(): ApiCallRecord[] {
    return this.state.calls;
  }

  get sessions(): SessionRecord[] {
    return [...this.state.sessions.values()];
  }

  /** @internal */
  async listen(port: number): Promise<void> {
    registerAwsRoutes(this.app, {
      state: this.state,
      handlers: createSsmHandlers(this),
      logger: this.options.logger,
    });
    registerControlRoutes(this.app, this);
    await this.app.listen({ host: '127.0.0.1', port });
    const address = this.app.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : port;
    this.detachDataChannel = attachDataChannelServer({
      server: this.app.server,
      findSession: (id) => this.runtimes.get(id),
      onRejected: (sessionId, code, reason) =>
        this.options.logger?.info({ sessionId, code, reason }, 'data channel open rejected'),
    });
  }

  /** Returns the runtime of one session, for tests that need the agent's internal state. */
  session(sessionId: string): EmulatedSession | undefined {
    return this.runtimes.get(sessionId);
  }

  /** Sets faults for one session, or with `'*'` the defaults for every new session. */
  setFaults(sessionId: string, faults: Faults): void {
    validateFaults(faults);
    if (sessionId === '*') {
      this.defaultFaults = { ...faults };
      return;
    }
    const runtime = this.runtimes.get(sessionId);
    if (runtime === undefined) {
      throw new Error(`session ${sessionId} not found: start it with StartSession first`);
    }
    runtime.setFaults(faults);
  }

  setDefaultFaults(faults: Faults): void {
    this.setFaults('*', faults);
  }

  /** Terminates a session as an administrator would (TerminateSession by someone else). */
  terminateSession(sessionId: string, by = 'admin'): void {
    this.runtimes.get(sessionId)?.terminate(by, 'Session terminated by an administrator.');
  }

  /** Closes a session's websocket with 1000 `Bye`; returns false when none is open. */
  closeWebsocket(sessionId: string): boolean {
    return this.runtimes.get(sessionId)?.closeWebsocket() ?? false;
  }

  startSession(request: StartSessionRequest): SessionTokenResponse {
    const sessionId = `${request.accessKeyId || 'emulator'}-${randomBytes(9).toString('hex')}`;
    const record: SessionRecord = {
      sessionId,
      target: request.target,
      documentName: request.documentName,
      host: request.host || 'localhost',
      port: request.port,
      localPortNumber: request.localPortNumber,
      accessKeyId: request.accessKeyId,
      state: 'pending',
      agentVersion: request.agentVersion,
      websocketOpens: 0,
      bytesToClient: 0,
      bytesFromClient: 0,
      streamsOpened: 0,
      dialFailures: 0,
      startedAt: Date.now(),
    };
    const policy = this.state.scenario.sessionPolicy;
    const runtime = new EmulatedSession({
      ...this.options,
      idleTimeoutMs: this.options.idleTimeoutMs ?? policy.idleTimeoutMs,
      maxSessionDurationMs: this.options.maxSessionDurationMs ?? policy.maxSessionDurationMs,
      record,
      properties: request.properties,
      dialOverrides: this.state.scenario.dialOverrides,
      pacing: this.options.pacing ?? true,
      faults: this.defaultFaults,
    });
    this.state.sessions.set(sessionId, record);
    this.runtimes.set(sessionId, runtime);
    this.options.logger?.info({ sessionId, target: request.target }, 'session started');
    return {
      SessionId: sessionId,
      TokenValue: runtime.token,
      StreamUrl: this.streamUrl(sessionId),
    };
  }

  resumeSession(sessionId: string): SessionTokenResponse {
    const runtime = this.runtimes.get(sessionId);
    if (runtime === undefined) {
      throw new AwsApiError('DoesNotExistException', `Session ${sessionId} does not exist.`);
    }
    runtime.checkResumeFaults();
    // NOTE: for an ended session the real service may return an empty token or raise
    // DoesNotExistException (undocumented). The empty token makes clients stop cleanly.
    const empty = runtime.isEnded || runtime.activeFaults.emptyResumeToken === true;
    return {
      SessionId: sessionId,
      TokenValue: empty ? '' : runtime.issueToken(),
      StreamUrl: this.streamUrl(sessionId),
    };
  }

  async close(): Promise<void> {
    for (const runtime of this.runtimes.values()) {
      runtime.dispose();
    }
    this.detachDataChannel?.();
    await this.app.close();
  }

  private streamUrl(sessionId: string): string {
    return `ws://127.0.0.1:${this.port}/v1/data-channel/${sessionId}?role=publish_subscribe`;
  }
}

async function resolveScenario(options: EmulatorOptions, agentVersion: string): Promise<Scenario> {
  if (options.scenario === undefined) {
    return defaultScenario(agentVersion);
  }
  if (typeof options.scenario === 'string') {
    return loadScenarioFile(options.scenario, agentVersion);
  }
  return normalizeScenario(options.scenario, agentVersion);
}

/** Starts the emulator on 127.0.0.1; `close()` stops it and every session. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const scenario = await resolveScenario(options, options.agentVersion ?? DEFAULT_AGENT_VERSION);
  for (const credential of scenario.credentials) {
    recordSecret('secret-access-key', credential.secretAccessKey);
    recordSecret('session-token', credential.sessionToken);
  }
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addContentTypeParser(
    [
      'application/x-amz-json-1.1',
      'application/x-amz-json-1.0',
      'application/x-www-form-urlencoded',
    ],
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );
  const emulator = new Emulator(app, scenario, options);
  await emulator.listen(options.port ?? 0);
  return emulator;
}

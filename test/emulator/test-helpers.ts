// Shared setup for emulator tests: an echo server, a session opened through the real SDK
// and a raw data-channel client attached to it.

import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { SSMClient, StartSessionCommand } from '@aws-sdk/client-ssm';
import { SmuxFrameDecoder, type SmuxFrame } from '../../daemon/smux/frame.js';
import { freePort } from '../helpers/ports.js';
import { startEmulator, type Emulator, type EmulatorOptions } from './index.js';
import { RawClient, type RawClientOptions } from './raw-client.js';

export const INSTANCE = 'i-0123456789abcdef0';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function startEchoServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * Returns a port on 127.0.0.1 where nothing listens. It comes from below the ephemeral range,
 * so no listen(0) elsewhere can start listening on it while the test expects a refused dial.
 */
export function closedPort(): Promise<number> {
  return freePort();
}

export function ssmClient(emulator: Emulator, accessKeyId = 'AKIATEST'): SSMClient {
  return new SSMClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId, secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
}

export interface OpenSessionOptions extends EmulatorOptions {
  remotePort: number;
  clientVersion?: string;
  onData?: RawClientOptions['onData'];
}

/** Tracks what a test opened so `closeAll` can release it in afterEach. */
export class SessionFixture {
  private readonly emulators: Emulator[] = [];
  private readonly clients: RawClient[] = [];

  async open(options: OpenSessionOptions) {
    const { remotePort, clientVersion, onData, ...emulatorOptions } = options;
    const emulator = await startEmulator({ pacing: false, ...emulatorOptions, port: 0 });
    this.emulators.push(emulator);
    const ssm = ssmClient(emulator);
    const started = await ssm.send(
      new StartSessionCommand({
        Target: INSTANCE,
        DocumentName: 'AWS-StartPortForwardingSessionToRemoteHost',
        Parameters: {
          host: ['127.0.0.1'],
          portNumber: [String(remotePort)],
          localPortNumber: ['0'],
        },
      }),
    );
    const sessionId = started.SessionId!;
    const client = await this.connect(started.StreamUrl!, started.TokenValue!, {
      clientVersion,
      onData,
    });
    const record = () => emulator.sessions.find((s) => s.sessionId === sessionId)!;
    return { emulator, ssm, client, sessionId, streamUrl: started.StreamUrl!, record };
  }

  async connect(
    streamUrl: string,
    token: string,
    options: Partial<RawClientOptions> = {},
  ): Promise<RawClient> {
    const client = await RawClient.open({ ...options, streamUrl, token });
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    for (const client of this.clients.splice(0)) {
      client.close();
    }
    for (const emulator of this.emulators.splice(0)) {
      await emulator.close();
    }
  }
}

/** Decodes every smux frame in the client's in-order data so far. */
export function smuxFramesOf(client: RawClient): SmuxFrame[] {
  return new SmuxFrameDecoder().push(Buffer.concat(client.data));
}

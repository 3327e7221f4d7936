// A port-forwarding session started in this process against an emulator, with a local
// listener, for tests that need to reach inside the session or the emulated agent.

import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { createSsmClient } from '../../../daemon/aws/clients.js';
import { startPortForwardSession } from '../../../daemon/portforward/index.js';
import type { PortForwardSession } from '../../../daemon/portforward/types.js';
import type { Emulator } from '../../emulator/index.js';
import { TEST_CREDENTIALS, TEST_INSTANCE_ID } from './daemon-process.js';

export interface ForwardSession {
  session: PortForwardSession;
  listener: Server;
  /** Local port whose connections the session carries. */
  port: number;
  close(): Promise<void>;
}

/** Starts a session to 127.0.0.1:`remotePort` through the emulator and listens on a free port. */
export async function startForwardSession(
  emulator: Emulator,
  remotePort: number,
): Promise<ForwardSession> {
  const client = createSsmClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: async () => ({ ...TEST_CREDENTIALS }),
  });
  const session = await startPortForwardSession({
    getSsmClient: () => client,
    target: TEST_INSTANCE_ID,
    remoteHost: '127.0.0.1',
    remotePort,
  });
  const listener = createServer((socket) => session.handleConnection(socket));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  return {
    session,
    listener,
    port: (listener.address() as { port: number }).port,
    async close() {
      await session.close();
      listener.close();
      client.destroy();
    },
  };
}

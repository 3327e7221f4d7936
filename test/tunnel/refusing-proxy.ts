// A TCP proxy on 127.0.0.1 that a test can stop and start again, to play an endpoint that is
// unreachable for a while.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * Forwards connections on 127.0.0.1:`port` to `target` there. `stop` closes its listener, so
 * requests fail with ECONNREFUSED as they do while an endpoint is unreachable, and `start`
 * listens on the same port again.
 */
export class RefusingProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target });
      for (const end of [socket, upstream]) {
        this.sockets.add(end);
        end.on('error', () => {});
        end.once('close', () => {
          this.sockets.delete(end);
          socket.destroy();
          upstream.destroy();
        });
      }
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: this.port }, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) {
      socket.destroy();
    }
    if (server !== null) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

// Keep-alive probes: a loopback connection opened and closed through one chosen session, so
// the service receives stream traffic and its idle timeout does not end the session.

import { connect, createServer, type Server, type Socket } from 'node:net';

const PROBE_HOLD_MS = 1000;
const PROBE_TIMEOUT_MS = 5000;

/**
 * Owns a private listener on 127.0.0.1 with an ephemeral port. Each probe connects to it,
 * and the accepted socket goes to the session given to `probe()`. Probes run one at a
 * time, so the accepted socket always belongs to the current probe.
 */
export class KeepAliveProber {
  private server: Server | undefined;
  private deliver: ((socket: Socket) => void) | undefined;
  private chain: Promise<void> = Promise.resolve();

  /** Queues one probe. `handOver` receives the accepted socket and takes ownership of it. */
  probe(handOver: (socket: Socket) => void): Promise<void> {
    const next = this.chain.then(() => this.runProbe(handOver));
    this.chain = next.catch(() => {});
    return next;
  }

  private async ensureServer(): Promise<number> {
    if (!this.server) {
      const server = createServer((socket) => {
        const deliver = this.deliver;
        this.deliver = undefined;
        if (deliver) {
          deliver(socket);
        } else {
          socket.destroy();
        }
      });
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.unref();
    }
    const address = this.server.address();
    if (!address || typeof address !== 'object') {
      throw new Error('keep-alive listener has no address');
    }
    return address.port;
  }

  private async runProbe(handOver: (socket: Socket) => void): Promise<void> {
    const port = await this.ensureServer();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.deliver = undefined;
        client.destroy();
        reject(new Error(`keep-alive probe timed out after ${PROBE_TIMEOUT_MS} ms`));
      }, PROBE_TIMEOUT_MS);
      timer.unref();
      this.deliver = (socket) => {
        handOver(socket);
        // Holding the connection briefly lets the session open the remote stream before
        // the close, so the probe is real traffic rather than an open and reset.
        setTimeout(() => {
          clearTimeout(timer);
          client.end();
          setTimeout(() => client.destroy(), PROBE_HOLD_MS).unref();
          resolve();
        }, PROBE_HOLD_MS).unref();
      };
      const client = connect({ host: '127.0.0.1', port });
      client.on('error', () => {});
    });
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
    this.deliver = undefined;
  }
}

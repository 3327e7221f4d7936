// A TCP proxy on 127.0.0.1 whose target a test can switch. While it holds, it accepts
// connections and keeps them waiting, so a client sees a slow server rather than a refused
// port, until `forwardTo` names the next target.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class HoldingProxy {
  readonly port: number;
  readonly #server: Server;
  #target: number | null;
  readonly #held: Socket[] = [];
  readonly #open = new Set<Socket>();

  private constructor(server: Server, port: number, target: number) {
    this.#server = server;
    this.port = port;
    this.#target = target;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Listens on `port` of 127.0.0.1 and forwards each connection to `target` there. */
  static async start(port: number, target: number): Promise<HoldingProxy> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new HoldingProxy(server, port, target);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Destroys every forwarded connection and keeps new ones waiting until `forwardTo`. */
  hold(): void {
    this.#target = null;
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  /** Forwards the waiting connections and every new one to `target`. */
  forwardTo(target: number): void {
    this.#target = target;
    for (const socket of this.#held.splice(0)) this.#forward(socket, target);
  }

  async close(): Promise<void> {
    for (const socket of [...this.#open, ...this.#held.splice(0)]) socket.destroy();
    this.#open.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    if (this.#target === null) {
      this.#held.push(socket);
      socket.once('close', () => {
        const index = this.#held.indexOf(socket);
        if (index >= 0) this.#held.splice(index, 1);
      });
      return;
    }
    this.#forward(socket, this.#target);
  }

  #forward(socket: Socket, target: number): void {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  }
}

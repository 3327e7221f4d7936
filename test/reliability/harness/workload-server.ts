// Target server for the reliability workloads. Every connection opens with a 21-byte header:
// kind (1 byte: 'E' echo or 'B' bulk), connection id (uint32 BE), download bytes (uint64 BE)
// and upload bytes (uint64 BE). Echo connections return every byte they receive. Bulk
// connections send the SHA-256 of the download, then the download, and once the whole
// upload arrived they send its SHA-256, so both directions are checked end to end.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

export const HEADER_BYTES = 21;
export const KIND_ECHO = 0x45;
export const KIND_BULK = 0x42;
/** Downloads are generated and sent in chunks of this size, so memory stays bounded. */
const DOWNLOAD_CHUNK_BYTES = 256 * 1024;

export interface WorkloadHeader {
  kind: number;
  connectionId: number;
  downloadBytes: number;
  uploadBytes: number;
}

export function encodeHeader(header: WorkloadHeader): Buffer {
  const buffer = Buffer.alloc(HEADER_BYTES);
  buffer.writeUInt8(header.kind, 0);
  buffer.writeUInt32BE(header.connectionId, 1);
  buffer.writeBigUInt64BE(BigInt(header.downloadBytes), 5);
  buffer.writeBigUInt64BE(BigInt(header.uploadBytes), 13);
  return buffer;
}

function decodeHeader(buffer: Buffer): WorkloadHeader {
  return {
    kind: buffer.readUInt8(0),
    connectionId: buffer.readUInt32BE(1),
    downloadBytes: Number(buffer.readBigUInt64BE(5)),
    uploadBytes: Number(buffer.readBigUInt64BE(13)),
  };
}

/**
 * Builds a download of `size` random bytes in chunks and returns its digest first, so the
 * server can send the digest before the data without holding the whole download.
 */
function planDownload(size: number): { digest: Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  for (let offset = 0; offset < size; offset += DOWNLOAD_CHUNK_BYTES) {
    const chunk = randomBytes(Math.min(DOWNLOAD_CHUNK_BYTES, size - offset));
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { digest: hash.digest(), chunks };
}

export class WorkloadServer {
  readonly server: Server;
  readonly sockets = new Set<Socket>();
  /** Connections whose header was read, by kind, for the figures. */
  readonly accepted = { echo: 0, bulk: 0, invalid: 0 };
  /** Bytes each connection id sent and received after its header, to locate a stall. */
  readonly traffic = new Map<number, { received: number; sent: number }>();

  constructor() {
    this.server = createServer((socket) => this.serve(socket));
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as { port: number }).port;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    const onHeader = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < HEADER_BYTES) {
        return;
      }
      socket.off('data', onHeader);
      const header = decodeHeader(pending);
      const rest = pending.subarray(HEADER_BYTES);
      const counts = { received: rest.length, sent: 0 };
      this.traffic.set(header.connectionId, counts);
      socket.on('data', (chunk: Buffer) => (counts.received += chunk.length));
      const write = socket.write.bind(socket);
      socket.write = ((chunk: Buffer, ...rest: never[]) => {
        counts.sent += chunk.length;
        return write(chunk, ...rest);
      }) as typeof socket.write;
      if (header.kind === KIND_ECHO) {
        this.accepted.echo += 1;
        this.serveEcho(socket, rest);
      } else if (header.kind === KIND_BULK) {
        this.accepted.bulk += 1;
        this.serveBulk(socket, header, rest);
      } else {
        this.accepted.invalid += 1;
        socket.destroy();
      }
    };
    socket.on('data', onHeader);
  }

  private serveEcho(socket: Socket, rest: Buffer): void {
    if (rest.length > 0) {
      socket.write(rest);
    }
    socket.pipe(socket);
  }

  private serveBulk(socket: Socket, header: WorkloadHeader, rest: Buffer): void {
    const uploadHash: Hash = createHash('sha256');
    let uploaded = 0;
    let downloadSent = false;
    let uploadDigest: Buffer | null = null;
    const finishIfDone = (): void => {
      if (downloadSent && uploadDigest !== null && !socket.destroyed) {
        socket.write(uploadDigest);
      }
    };
    const onUpload = (chunk: Buffer): void => {
      uploadHash.update(chunk);
      uploaded += chunk.length;
      if (uploaded >= header.uploadBytes && uploadDigest === null) {
        uploadDigest = uploadHash.digest();
        finishIfDone();
      }
    };
    socket.on('data', onUpload);
    if (rest.length > 0 || header.uploadBytes === 0) {
      onUpload(rest);
    }
    this.sendDownload(socket, header.downloadBytes).then(
      () => {
        downloadSent = true;
        finishIfDone();
      },
      // The client went away mid-download; its own check reports the failure.
      () => socket.destroy(),
    );
  }

  private async sendDownload(socket: Socket, size: number): Promise<void> {
    const { digest, chunks } = planDownload(size);
    socket.write(digest);
    for (const chunk of chunks) {
      if (socket.destroyed) {
        return;
      }
      if (!socket.write(chunk)) {
        await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
      }
    }
  }
}

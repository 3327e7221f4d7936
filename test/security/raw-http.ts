// HTTP requests written byte for byte on a TCP socket, because Node's http client rejects
// request targets with spaces, control characters or raw non-ASCII bytes.

import { connect } from 'node:net';

export interface RawHttpResponse {
  /** 0 when the server closed the connection without a status line. */
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` to 127.0.0.1:port,
 * with `Connection: close`, and reads until the server closes. Rejects after `timeoutMs`.
 */
export function rawHttp(
  port: number,
  head: string | Buffer,
  body: Buffer = Buffer.alloc(0),
  timeoutMs = 10_000,
): Promise<RawHttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy(new Error(`raw request to port ${port} timed out after ${timeoutMs} ms`));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server that rejects a request early may reset the connection while the body is sent.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        resolve(parseResponse(Buffer.concat(chunks)));
      } else {
        reject(error);
      }
    });
    socket.on('end', () => resolve(parseResponse(Buffer.concat(chunks))));
    socket.on('connect', () => {
      socket.write(
        Buffer.concat([Buffer.from(head), Buffer.from('\r\nConnection: close\r\n\r\n')]),
      );
      socket.end(body);
    });
  });
}

function parseResponse(data: Buffer): RawHttpResponse {
  const split = data.indexOf('\r\n\r\n');
  if (split < 0) {
    return { status: 0, headers: {}, body: data };
  }
  const [statusLine = '', ...lines] = data.subarray(0, split).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  let body = data.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    body = decodeChunked(body);
  }
  return { status, headers, body };
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) {
      break;
    }
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) {
      break;
    }
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

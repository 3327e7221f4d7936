// Request bodies over the control API's limit, sent to a real daemon: the 413 reply names the
// limit and what the API expects, with and without a Content-Length header.

import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMIT_BYTES } from '../../daemon/api/server.js';
import type { ErrorBody } from '../../daemon/api/errors.js';
import { cleanupAfterEach, createTestHome, startTestDaemon } from '../integration/helpers.js';

const addCleanup = cleanupAfterEach();

/** Size of the oversized body, as a user who posted a large file by mistake would send it. */
const LARGE_BODY_BYTES = 50 * 1024 * 1024;

interface Reply {
  status: number;
  body: ErrorBody;
}

/**
 * POSTs `body` to `/v1/profiles` and resolves with the reply. With `chunked` the request has
 * no Content-Length header. The daemon may close the connection before the whole body is
 * sent, so a write error after the reply arrived is ignored.
 */
function postProfile(url: string, token: string, body: Buffer, chunked: boolean): Promise<Reply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
    };
    if (!chunked) {
      headers['content-length'] = body.length;
    }
    const request = httpRequest({
      host: hostname,
      port,
      method: 'POST',
      path: '/v1/profiles',
      headers,
    });
    let replied = false;
    request.on('response', (response) => {
      replied = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as ErrorBody });
      });
    });
    request.on('error', (error) => {
      if (!replied) {
        reject(error);
      }
    });
    request.setTimeout(30_000, () => request.destroy(new Error('POST /v1/profiles timed out')));
    if (chunked) {
      // Two writes before end make Node.js send the body with chunked transfer encoding.
      const half = Math.floor(body.length / 2);
      request.write(body.subarray(0, half));
      request.end(body.subarray(half));
    } else {
      request.end(body);
    }
  });
}

describe('control API body limit', () => {
  for (const chunked of [false, true]) {
    const framing = chunked ? 'chunked' : 'with length';
    it(`names the limit, ${framing}`, { timeout: 60_000 }, async () => {
      const home = await createTestHome();
      addCleanup(() => home.cleanup());
      const daemon = await startTestDaemon(home.dir, []);
      addCleanup(() => daemon.stop());
      const body = Buffer.alloc(LARGE_BODY_BYTES, 'a');

      const reply = await postProfile(daemon.daemon.url, daemon.daemon.token, body, chunked);
      const profiles = await daemon.api<unknown[]>('GET', '/v1/profiles');

      expect(reply.status).toBe(413);
      expect(reply.body.error.code).toBe('ERR_BODY_TOO_LARGE');
      expect(reply.body.error.message).toContain(`limit of ${DEFAULT_BODY_LIMIT_BYTES} bytes`);
      expect(reply.body.error.message).toContain('expects small JSON documents');
      expect(reply.body.error.hint).toContain('one profile per request');
      if (chunked) {
        expect(reply.body.error.message).not.toContain(`(${LARGE_BODY_BYTES} bytes)`);
      } else {
        expect(reply.body.error.message).toContain(`(${LARGE_BODY_BYTES} bytes)`);
      }
      expect(profiles.status).toBe(200);
      expect(profiles.body).toEqual([]);
    });
  }
});

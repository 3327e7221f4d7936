// The dashboard's built files (ui/dist), served from memory. The file set is read once at
// start-up and a request must name one of those files exactly, so no part of a request path
// ever reaches the file system and there is no path to traverse.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** True for Vite's hashed build outputs under /assets/, whose content never changes. */
  immutable: boolean;
}

/** The built dashboard, source maps included, is well under 1 MB, so a larger folder is not it. */
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Reads every regular file under `root` into a map keyed by URL path (`/index.html`,
 * `/assets/index-abc.js`). Symbolic links and dot files are skipped.
 */
export function loadStaticFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  let totalBytes = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) {
        continue;
      }
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      if (!entry.isFile()) {
        continue;
      }
      totalBytes += statSync(path).size;
      if (totalBytes > MAX_TOTAL_BYTES) {
        throw new RangeError(
          `dashboard folder ${root} contains more than ${MAX_TOTAL_BYTES} bytes; ` +
            'point uiDir at the built dashboard (ui/dist)',
        );
      }
      const urlPath = `/${relative(root, path).split(sep).join('/')}`;
      files.set(urlPath, {
        body: readFileSync(path),
        contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
        immutable: urlPath.startsWith('/assets/'),
      });
    }
  };
  walk(root);
  return files;
}

/**
 * Serves `files` for GET and HEAD on `/*`; `/` serves `/index.html`. Paths that name no file
 * fall through to the server's not-found handler.
 */
export function registerStaticFiles(app: FastifyInstance, files: Map<string, StaticFile>): void {
  app.get('/*', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const file = files.get(path === '/' ? '/index.html' : path);
    if (!file) {
      return reply.callNotFound();
    }
    return reply
      .header('content-type', file.contentType)
      .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(file.body);
  });
}

import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The daemon serves this build under a strict Content-Security-Policy (`default-src 'self'`),
// so the output must have no inline scripts or styles and load nothing from other origins.
export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets become data: URLs, which the policy's img-src/font-src may not allow.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
  },
});

// Draws the tray icons into PNG files under electron/icons, so no binary arrives without its
// source. Run with `npx tsx electron/scripts/generate-icons.ts` after changing a shape.
//
// Every state has a distinct shape, because macOS template images (`*Template.png`) keep only
// the alpha channel: filled circle (ok), ring (idle), half-filled ring (degraded), circle with
// a cut-out bar (failed) and a dashed ring (offline). Linux and Windows also get a color.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { TRAY_ICON_STATES, type TrayIconState } from '../model/tray-icon.js';

type Rgb = [number, number, number];

const COLORS: Record<TrayIconState, Rgb> = {
  ok: [26, 127, 55],
  idle: [110, 119, 129],
  degraded: [191, 135, 0],
  failed: [207, 34, 46],
  offline: [110, 119, 129],
};

const TEMPLATE_COLOR: Rgb = [0, 0, 0];

/** Returns whether the point (x, y), in units of the icon's width (0..1), is painted. */
function covers(state: TrayIconState, x: number, y: number): boolean {
  const dx = x - 0.5;
  const dy = y - 0.5;
  const radius = Math.hypot(dx, dy);
  const outer = 0.44;
  const ring = radius <= outer && radius >= outer - 0.12;
  switch (state) {
    case 'ok':
      return radius <= outer;
    case 'idle':
      return ring;
    case 'degraded':
      return ring || (radius <= outer && dx <= 0);
    case 'failed': {
      const inBar = Math.abs(dx) <= 0.07 && dy >= -0.28 && dy <= 0.08;
      const inDot = Math.abs(dx) <= 0.07 && dy >= 0.16 && dy <= 0.28;
      return radius <= outer && !inBar && !inDot;
    }
    case 'offline': {
      const angle = Math.atan2(dy, dx) + Math.PI;
      return ring && Math.floor((angle / (2 * Math.PI)) * 8) % 2 === 0;
    }
  }
}

/** Renders an RGBA image, anti-aliased by 4x4 supersampling per pixel. */
function render(state: TrayIconState, size: number, color: Rgb): Buffer {
  const samples = 4;
  const pixels = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      let hits = 0;
      for (let sy = 0; sy < samples; sy += 1) {
        for (let sx = 0; sx < samples; sx += 1) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          if (covers(state, x, y)) hits += 1;
        }
      }
      const offset = (py * size + px) * 4;
      pixels[offset] = color[0];
      pixels[offset + 1] = color[1];
      pixels[offset + 2] = color[2];
      pixels[offset + 3] = Math.round((hits / (samples * samples)) * 255);
    }
  }
  return encodePng(size, size, pixels);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encodes 8-bit RGBA pixels as a PNG (color type 6, filter 0 on every row). */
export function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // color type RGBA
  const rows = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y += 1) {
    rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function main(): void {
  const folder = join(import.meta.dirname, '..', 'icons');
  mkdirSync(folder, { recursive: true });
  // 16 px is the tray size on every platform; @2x is picked on high-density displays.
  for (const state of TRAY_ICON_STATES) {
    for (const [suffix, size] of [
      ['', 16],
      ['@2x', 32],
    ] as const) {
      writeFileSync(join(folder, `tray-${state}${suffix}.png`), render(state, size, COLORS[state]));
      const template = render(state, size, TEMPLATE_COLOR);
      writeFileSync(join(folder, `tray-${state}Template${suffix}.png`), template);
    }
  }
  // A larger colored icon for the dashboard window and notifications.
  writeFileSync(join(folder, 'app.png'), render('ok', 256, COLORS.ok));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) main();

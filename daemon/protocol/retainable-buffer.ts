/**
 * Returns a buffer that is safe to keep for a long time. decodeMessage returns payloads
 * as views into the websocket's read buffer (up to 64 KiB per socket read), and keeping
 * a 1 KiB view would keep that whole read buffer alive. So a view that covers less than
 * half of its underlying memory is copied, and anything else is returned as it is.
 */
export function retainableBuffer(view: Buffer): Buffer {
  return view.byteLength * 2 < view.buffer.byteLength ? Buffer.from(view) : view;
}

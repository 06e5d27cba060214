// Reading a request body, counting bytes as they arrive: a sender that
// declares no length (chunked) or lies about it is cut off at the limit, so
// memory never holds more than the limit plus one chunk.

/** The body as text; `tooLarge()` is thrown once it passes `limit` bytes. */
export async function readCapped(
  request: Request,
  limit: number,
  tooLarge: () => Error,
): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

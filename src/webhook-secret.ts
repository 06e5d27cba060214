// Standard Webhooks secrets (`whsec_` + base64), read the same way wherever
// Nudge signs: outgoing webhooks, the capture transport's triggers, and the
// config check that refuses a bad one where it is written.
import { NudgeError } from './errors.js';

/** The raw key bytes of a Standard Webhooks secret (`whsec_` + base64, at least 16 bytes). */
export function signingKeyOf(secret: string): Buffer {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
  if (!key || key.length < 16) {
    throw new NudgeError(
      'the webhook signing secret must be whsec_ followed by base64 (≥ 16 bytes)',
    );
  }
  return key;
}

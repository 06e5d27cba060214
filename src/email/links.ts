// Unsubscribe and preference links that need no login: the URL itself is the
// credential (RFC 8058: the one-click POST carries no cookie and no
// authorization), so it must name one contact, be impossible to forge or to
// alter into another contact's, and give away nothing about the contact.
//
// A token is a deterministic authenticated encryption built from HMAC
// (SIV-style): tag = HMAC-SHA256(mac key, key id ‖ payload), cut to 16
// bytes; the payload is then encrypted with AES-256-CTR under the tag as IV.
// So the tag signs the payload, and the contact id inside is unreadable
// without the key. Keys rotate: email.link_keys lists them, the first signs
// new links and every one verifies old ones (each token names its key by a
// 4-byte id); without the setting one key is derived from the master key.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';
import type { LoadedConfig } from '../config/load.js';
import { keySourceOf, masterKey } from '../db/secrets.js';

/** What a link lets its holder do: unsubscribe from one topic, or manage every topic. */
export type LinkPurpose = 'unsubscribe' | 'preferences';

export interface LinkClaim {
  purpose: LinkPurpose;
  contactId: string;
  /** The topic an unsubscribe link is for; '' for a preferences link. */
  topic: string;
}

interface LinkKey {
  id: Buffer;
  mac: Buffer;
  enc: Buffer;
}

export interface LinkSigner {
  sign(claim: LinkClaim): string;
  /** The claim of a token made with one of the keys, else undefined (forged, altered, old key gone). */
  verify(token: string): LinkClaim | undefined;
}

const PURPOSE_BYTE: Record<LinkPurpose, number> = { unsubscribe: 0x75, preferences: 0x70 };
const TAG_BYTES = 16;
const ID_BYTES = 4;

function linkKey(secret: Buffer): LinkKey {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', secret, 'nudge email links', info, 32));
  const mac = derive('mac');
  return {
    id: createHash('sha256').update(mac).digest().subarray(0, ID_BYTES),
    mac,
    enc: derive('enc'),
  };
}

export function makeLinkSigner(secrets: Buffer[]): LinkSigner {
  if (secrets.length === 0) throw new Error('makeLinkSigner needs at least one key');
  const keys = secrets.map(linkKey);
  const tagOf = (key: LinkKey, payload: Buffer) =>
    createHmac('sha256', key.mac)
      .update(Buffer.concat([key.id, payload]))
      .digest()
      .subarray(0, TAG_BYTES);
  const ctr = (key: LinkKey, tag: Buffer, data: Buffer, decrypt: boolean) => {
    const cipher = (decrypt ? createDecipheriv : createCipheriv)('aes-256-ctr', key.enc, tag);
    return Buffer.concat([cipher.update(data), cipher.final()]);
  };
  return {
    sign(claim) {
      const key = keys[0]!;
      const payload = Buffer.concat([
        Buffer.from([PURPOSE_BYTE[claim.purpose]]),
        Buffer.from(claim.contactId.replace(/-/g, ''), 'hex'),
        Buffer.from(claim.topic, 'utf8'),
      ]);
      const tag = tagOf(key, payload);
      return Buffer.concat([key.id, tag, ctr(key, tag, payload, false)]).toString('base64url');
    },
    verify(token) {
      if (!/^[A-Za-z0-9_-]{40,400}$/.test(token)) return undefined;
      const raw = Buffer.from(token, 'base64url');
      if (raw.length < ID_BYTES + TAG_BYTES + 17) return undefined;
      const key = keys.find((k) => k.id.equals(raw.subarray(0, ID_BYTES)));
      if (!key) return undefined;
      const tag = raw.subarray(ID_BYTES, ID_BYTES + TAG_BYTES);
      const payload = ctr(key, tag, raw.subarray(ID_BYTES + TAG_BYTES), true);
      if (!timingSafeEqual(tagOf(key, payload), tag)) return undefined;
      const purpose = payload[0] === PURPOSE_BYTE.unsubscribe ? 'unsubscribe' : 'preferences';
      if (payload[0] !== PURPOSE_BYTE[purpose]) return undefined;
      const hex = payload.subarray(1, 17).toString('hex');
      const contactId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      return { purpose, contactId, topic: payload.subarray(17).toString('utf8') };
    },
  };
}

const signers = new WeakMap<LoadedConfig, LinkSigner>();

/** The project's signer: email.link_keys, else a key derived from the master key. */
export function linkSignerFor(project: LoadedConfig): LinkSigner {
  let signer = signers.get(project);
  if (!signer) {
    const configured = project.config.email.link_keys;
    signer = makeLinkSigner(
      configured
        ? configured.map((key) => Buffer.from(key, 'utf8'))
        : [masterKey(keySourceOf(project))],
    );
    signers.set(project, signer);
  }
  return signer;
}

/** Where links point: server.public_url, else the address the server listens on. */
export function publicBaseUrl(project: LoadedConfig): string {
  const server = project.config.server;
  return (server.public_url ?? `http://${server.host}:${server.port}`).replace(/\/+$/, '');
}

export interface EmailLinks {
  unsubscribe_url: string;
  preferences_url: string;
}

/** The URL of a link: /email/unsubscribe/<token> or /email/preferences/<token>. */
export function linkUrl(project: LoadedConfig, claim: LinkClaim): string {
  return `${publicBaseUrl(project)}/email/${claim.purpose}/${linkSignerFor(project).sign(claim)}`;
}

/** The links of one email to `contactId` about `topic`. */
export function emailLinks(project: LoadedConfig, contactId: string, topic: string): EmailLinks {
  return {
    unsubscribe_url: linkUrl(project, { purpose: 'unsubscribe', contactId, topic }),
    preferences_url: linkUrl(project, { purpose: 'preferences', contactId, topic: '' }),
  };
}

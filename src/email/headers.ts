// The headers that make an email refusable in one click (RFC 8058 and RFC
// 2369): List-Unsubscribe with the HTTPS link (the receiver POSTs
// `List-Unsubscribe=One-Click` to it) and a mailto: fallback, and
// List-Unsubscribe-Post. Only for non-transactional email.

/** The bare address of `Name <a@b>` or `a@b`. */
export function bareAddress(address: string): string {
  return address.replace(/^.*<(.*)>\s*$/, '$1').trim();
}

export function unsubscribeHeaders(
  unsubscribeUrl: string,
  mailto: string | undefined,
): Record<string, string> {
  const token = unsubscribeUrl.slice(unsubscribeUrl.lastIndexOf('/') + 1);
  const targets = [`<${unsubscribeUrl}>`];
  if (mailto) {
    targets.push(
      `<mailto:${bareAddress(mailto)}?subject=${encodeURIComponent(`unsubscribe ${token}`)}>`,
    );
  }
  return {
    'List-Unsubscribe': targets.join(', '),
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}

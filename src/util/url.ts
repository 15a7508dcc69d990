/**
 * `url` for messages, logs and output: the password of a `user:password@` (which ws:// and
 * wss:// send as a proxy's basic authentication) shows as `***`. A URL without a password comes
 * back as it is; so does text that is no URL, except that what looks like `scheme://user:pass@`
 * at its start is masked all the same (an error about a malformed URL quotes it).
 */
export function withoutPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return maskUserinfo(url);
  }
  if (u.password === '') return url;
  u.password = '***';
  return u.href;
}

/** `scheme://user:password@...` with the password as `***`, found by text alone. */
function maskUserinfo(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(text);
  if (m === null) return text;
  const userinfo = m[2]!;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return text;
  return `${m[1]}${userinfo.slice(0, colon)}:***@${text.slice(m[0].length)}`;
}

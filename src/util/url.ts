/**
 * `url` for messages, logs and output: the password of a `user:password@` (which ws:// and
 * wss:// send as a proxy's basic authentication) shows as `***`. Text that is no URL, or a URL
 * without a password, comes back as it is.
 */
export function withoutPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.password === '') return url;
  u.password = '***';
  return u.href;
}

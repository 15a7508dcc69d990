/**
 * The text of a file an operator wrote (a secret, the config file): UTF-8, or UTF-16 where a
 * byte-order mark says so. Windows PowerShell 5 (`"secret" > pw.txt`, `Out-File`) writes UTF-16LE
 * with a BOM; read as UTF-8 it became replacement characters and NULs: a password that failed
 * admission, a token refused as not printable ASCII, a config file said to hold no mapping. The
 * UTF-16 decoders drop the BOM; a UTF-8 one is left to the reader.
 */
export function decodeTextFile(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  return bytes.toString('utf8');
}

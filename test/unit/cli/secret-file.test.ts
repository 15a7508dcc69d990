import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretFile } from '../../../src/cli/secret.js';

/** readSecretFile(): what a password or token file gives, as editors write it. */

const dir = mkdtempSync(join(tmpdir(), 'flexmux-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('readSecretFile', () => {
  it('drops the byte-order mark Windows Notepad starts a UTF-8 file with', () => {
    // Kept, the BOM was the password's first character: admission failed for a password that
    // looked right in every editor.
    const pw = file('bom.pw', Buffer.concat([BOM, Buffer.from('s3cret')]));
    expect(readSecretFile(pw, 'password')).toBe('s3cret');
    const crlf = file('bom-crlf.pw', Buffer.concat([BOM, Buffer.from('s3cret\r\n')]));
    expect(readSecretFile(crlf, 'password')).toBe('s3cret');
  });

  it('drops one trailing newline, LF or CRLF, and nothing else', () => {
    expect(readSecretFile(file('lf.pw', 's3cret\n'), 'password')).toBe('s3cret');
    expect(readSecretFile(file('crlf.pw', 's3cret\r\n'), 'password')).toBe('s3cret');
    expect(readSecretFile(file('two.pw', 's3cret\n\n'), 'password')).toBe('s3cret\n');
    // A BOM further in is the secret's, not a mark of the file's encoding.
    expect(readSecretFile(file('mid.pw', 'a\uFEFFb'), 'password')).toBe('a\uFEFFb');
  });

  it('reads a UTF-16 file by its byte-order mark, as Windows PowerShell 5 writes one', () => {
    // `"s3cret" > pw.txt` there: UTF-16LE with a BOM, and CRLF. Read as UTF-8, the password was
    // replacement characters and NULs, and admission failed.
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('s3cret\r\n', 'utf16le')]);
    expect(readSecretFile(file('ps.pw', le), 'password')).toBe('s3cret');
    const be = Buffer.from(
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('s3cret\n', 'utf16le')]),
    ).swap16();
    expect(readSecretFile(file('be.pw', be), 'password')).toBe('s3cret');
    expect(() => readSecretFile(file('le-empty.pw', Buffer.from([0xff, 0xfe])), 'password')).toThrow(
      /is empty/,
    );
  });

  it('refuses a file with only a byte-order mark as empty', () => {
    const only = file('only-bom.pw', Buffer.concat([BOM, Buffer.from('\r\n')]));
    expect(() => readSecretFile(only, 'admin token')).toThrow(/admin token file .* is empty/);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envSecret, findSecret, readSecretFile } from '../../../src/cli/secret.js';

/**
 * readSecretFile(): what a password or token file gives, as editors write it; envSecret(): what
 * FLEXMUX_PASSWORD gives, trimmed as a file is.
 */

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

  it('drops one trailing line ending, LF, CRLF or CR, and nothing else', () => {
    expect(readSecretFile(file('lf.pw', 's3cret\n'), 'password')).toBe('s3cret');
    expect(readSecretFile(file('crlf.pw', 's3cret\r\n'), 'password')).toBe('s3cret');
    expect(readSecretFile(file('cr.pw', 's3cret\r'), 'password')).toBe('s3cret');
    expect(readSecretFile(file('sp.pw', ' s3cret \n'), 'password')).toBe(' s3cret ');
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

  it('refuses a file with only white space, as it refuses an empty one', () => {
    expect(() => readSecretFile(file('blank.pw', '  \t\n'), 'password')).toThrow(
      /password file .* white space/,
    );
    expect(() => readSecretFile(file('nl.pw', '\n'), 'password')).toThrow(/is empty/);
  });
});

describe('envSecret', () => {
  const warnings = (): {
    lines: { obj: object; msg?: string }[];
    warn: (obj: object, msg?: string) => void;
  } => {
    const lines: { obj: object; msg?: string }[] = [];
    return { lines, warn: (obj, msg) => lines.push({ obj, msg }) };
  };

  it('drops a trailing line ending a Kubernetes secret or an env-file carried in, and says so without the secret', () => {
    for (const [value, ending] of [
      ['s3cret\n', 'LF'],
      ['s3cret\r\n', 'CRLF'],
      ['s3cret\r', 'CR'],
    ] as const) {
      const log = warnings();
      expect(envSecret('FLEXMUX_PASSWORD', 'password', { FLEXMUX_PASSWORD: value }, log)).toBe('s3cret');
      expect(log.lines).toHaveLength(1);
      expect(log.lines[0]?.obj).toEqual({
        env: 'FLEXMUX_PASSWORD',
        dropped: `a trailing line ending (${ending})`,
      });
      expect(JSON.stringify(log.lines)).not.toContain('s3cret');
    }
    // Only one, as from a file: a second is the secret's.
    expect(envSecret('X', 'password', { X: 's3cret\n\n' })).toBe('s3cret\n');
    const bom = warnings();
    expect(envSecret('X', 'password', { X: '\uFEFFs3cret\n' }, bom)).toBe('s3cret');
    expect(bom.lines[0]?.obj).toEqual({
      env: 'X',
      dropped: 'a leading byte-order mark and a trailing line ending (LF)',
    });
  });

  it('takes a value without a line ending as it is, without a warning', () => {
    const log = warnings();
    expect(envSecret('X', 'password', { X: ' s3 cret ' }, log)).toBe(' s3 cret ');
    expect(log.lines).toEqual([]);
  });

  it('counts an unset or empty variable as none, and refuses one of white space only', () => {
    expect(envSecret('X', 'password', {})).toBeUndefined();
    expect(envSecret('X', 'password', { X: '' })).toBeUndefined();
    // A secret that was not mounted, with its newline: not the password "\n", not a generated one.
    expect(() => envSecret('X', 'password', { X: '\n' })).toThrow(/X \(the password\) is empty/);
    expect(() => envSecret('X', 'password', { X: '\r\n' })).toThrow(/is empty/);
    expect(() => envSecret('X', 'password', { X: '  ' })).toThrow(
      /X \(the password\) holds only white space/,
    );
    expect(() => envSecret('X', 'password', { X: ' \t\n' })).toThrow(/white space/);
  });

  it('is what findSecret reads when no file is given, with the same warning', () => {
    const log = warnings();
    expect(
      findSecret({ env: 'FLEXMUX_ADMIN_TOKEN', what: 'admin token' }, { FLEXMUX_ADMIN_TOKEN: 'tok\n' }, log),
    ).toBe('tok');
    expect(log.lines).toHaveLength(1);
  });
});

import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError, describeError, ExitCode, exitCodeOf, exitCodes, nextStep } from '../../../src/cli/exit.js';
import {
  AdmissionError,
  ConfigError,
  ConnectionClosedError,
  DialRefusedError,
  PingError,
  StreamResetError,
  TimeoutError,
} from '../../../src/errors.js';

describe('exit codes', () => {
  it('map library errors by code', () => {
    expect(exitCodeOf(new ConfigError('x'))).toBe(2);
    expect(exitCodeOf(new AdmissionError('x', -1))).toBe(3);
    expect(exitCodeOf(new DialRefusedError('listener not found'))).toBe(4);
    expect(exitCodeOf(new TimeoutError('x'))).toBe(5);
    expect(exitCodeOf(new ConnectionClosedError())).toBe(6);
    expect(exitCodeOf(new StreamResetError('x', 0, true))).toBe(7);
    expect(exitCodeOf(new PingError('x'))).toBe(8);
  });

  it('map CLI errors, commander errors, OS errors and the rest', () => {
    expect(exitCodeOf(new CliError('CLI_USAGE', 'x'))).toBe(2);
    expect(exitCodeOf(new CliError('CLI_ADMIN', 'x'))).toBe(11);
    expect(exitCodeOf(new CliError('CLI_NOT_FOUND', 'x'))).toBe(12);
    expect(exitCodeOf(new CliError('CLI_INTERRUPTED', 'x', { exitCode: 143 }))).toBe(143);
    expect(exitCodeOf(new CliError('CLI_OUTPUT_CLOSED', 'x'))).toBe(141);
    expect(exitCodeOf(new CommanderError(1, 'commander.unknownOption', 'x'))).toBe(2);
    expect(exitCodeOf(new CommanderError(0, 'commander.helpDisplayed', 'x'))).toBe(0);
    expect(exitCodeOf(Object.assign(new Error('x'), { code: 'EADDRINUSE' }))).toBe(13);
    expect(exitCodeOf(new Error('bug'))).toBe(1);
    expect(exitCodeOf('string')).toBe(1);
  });

  it('add a line that says what to do next: --help for bad usage, the meaning of a dial refusal', () => {
    expect(nextStep(new CliError('CLI_USAGE', 'x'), 'dial')).toBe('(run flexmux dial --help for usage)');
    expect(nextStep(new DialRefusedError('resolve domain failed'), 'dial')).toMatch(
      /^\(no node holds that domain now/,
    );
    expect(nextStep(new DialRefusedError('listener not found'), 'dial')).toMatch(
      /serves nothing on that port/,
    );
    expect(nextStep(new DialRefusedError('no node holds the ip'), 'dial')).toMatch(/dial its domain instead/);
    expect(nextStep(new DialRefusedError('dial not allowed'), 'dial')).toMatch(/access rules/);
    expect(nextStep(new DialRefusedError('listener backlog full'), 'dial')).toBeUndefined();
    expect(nextStep(new ConnectionClosedError(), 'dial')).toBeUndefined();
  });

  it('keep an error on one line when its cause ends with a newline (OpenSSL)', () => {
    const openssl = new Error('error:0A000086:SSL routines::certificate verify failed\n');
    expect(describeError(new ConnectionClosedError('TLS dial failed', { cause: openssl }))).toBe(
      'TLS dial failed: error:0A000086:SSL routines::certificate verify failed [FLEX_ERR_CONNECTION_CLOSED]',
    );
    // Said already in the message, trimmed: not again.
    expect(
      describeError(new ConnectionClosedError('TLS dial failed: x y', { cause: new Error('x y\n') })),
    ).toBe('TLS dial failed: x y [FLEX_ERR_CONNECTION_CLOSED]');
  });

  it('docs/cli.md lists every code with its exit code', () => {
    const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
    for (const [code, exit] of Object.entries(exitCodes)) {
      expect(doc).toMatch(new RegExp(`^\\| ${exit} \\|.*\`${code}\``, 'm'));
    }
    for (const exit of Object.values(ExitCode)) expect(doc).toMatch(new RegExp(`^\\| ${exit} \\|`, 'm'));
  });

  it('describe errors on one line with their code and cause', () => {
    const cause = new Error('ECONNREFUSED 127.0.0.1:1');
    expect(describeError(new ConnectionClosedError('dial failed', { cause }))).toBe(
      'dial failed: ECONNREFUSED 127.0.0.1:1 [FLEX_ERR_CONNECTION_CLOSED]',
    );
    expect(describeError(new CliError('CLI_USAGE', 'bad'))).toBe('bad [CLI_USAGE]');
    expect(describeError(42)).toBe('42');
    // A cause of the same kind repeats what the error says (a wrong password's two layers).
    const inner = new AdmissionError('envelope failed authentication (wrong password)', -1);
    expect(
      describeError(new AdmissionError('cannot open the response (wrong password)', 0, { cause: inner })),
    ).toBe('cannot open the response (wrong password) [FLEX_ERR_ADMISSION_REJECTED]');
  });
});

import { describe, expect, it } from 'vitest';
import { containedLogger, type Logger, silentLogger } from '../../../src/util/logger.js';

describe('containedLogger', () => {
  it('passes each line on, to the logger as `this`, and keeps in what it throws', () => {
    const lines: string[] = [];
    class Throwing implements Logger {
      constructor(private readonly prefix: string) {}
      debug(_obj: object, msg?: string): void {
        lines.push(`${this.prefix}debug ${msg}`);
      }
      info(_obj: object, msg?: string): void {
        lines.push(`${this.prefix}info ${msg}`);
      }
      warn(): void {
        throw new Error('write EPIPE');
      }
      error(_obj: object, msg?: string): void {
        lines.push(`${this.prefix}error ${msg}`);
        throw new Error('write EIO');
      }
      child(bindings: { name: string }): Logger {
        return new Throwing(`${this.prefix}${bindings.name}:`);
      }
    }
    const log = containedLogger(new Throwing(''));
    log.debug({}, 'a');
    log.info({}, 'b');
    expect(() => log.warn({}, 'c')).not.toThrow();
    expect(() => log.error({}, 'd')).not.toThrow();
    const child = log.child?.({ name: 'x' });
    expect(() => child?.warn({}, 'e')).not.toThrow();
    child?.info({}, 'f');
    expect(lines).toEqual(['debug a', 'info b', 'error d', 'x:info f']);
  });

  it('adds no child to a logger without one, and leaves the silent logger as it is', () => {
    const plain: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(containedLogger(plain).child).toBeUndefined();
    expect(containedLogger(silentLogger)).toBe(silentLogger);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { limitOptions, type SwitcherOpts, switcherCommand } from '../../../src/cli/switcher.js';
import { switcherDefaults } from '../../../src/switcher/config.js';

const cliDoc = readFileSync(fileURLToPath(new URL('../../../docs/cli.md', import.meta.url)), 'utf8');

/** The switcher command's flags in the Limits help group, as `--long-name`. */
function limitFlags(): string[] {
  const cmd = switcherCommand().command;
  return cmd.options
    .filter((o) => (o as unknown as { helpGroupHeading?: string }).helpGroupHeading === 'Limits:')
    .map((o) => o.long as string);
}

describe("the switcher command's limits", () => {
  it('reach the switcher: every Limits flag parses into an option limitOptions passes on', () => {
    const flags = limitFlags();
    expect(flags).toContain('--max-streams-per-client');
    const cmd = switcherCommand().command;
    cmd.parseOptions(['--max-streams-per-client', '7', '--max-clients', '9']);
    const passed = limitOptions(cmd.opts<SwitcherOpts>());
    expect(passed).toEqual({ maxStreamsPerClient: 7, maxClients: 9 });
    // Every flag of the group has a switcher option of the same name with a default.
    for (const f of flags) {
      const key = f.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      expect(Object.keys(switcherDefaults)).toContain(key);
    }
  });

  it('refuses a stream limit below 1', () => {
    const cmd = switcherCommand().command;
    cmd.exitOverride().configureOutput({ writeErr: () => {} });
    expect(() => cmd.parseOptions(['--max-streams-per-client', '0'])).toThrow();
  });

  it('are all in docs/cli.md, with the default the switcher uses', () => {
    for (const f of limitFlags()) expect(cliDoc).toContain(`| \`${f} `);
    expect(cliDoc).toContain(`| \`--max-streams-per-client N\` | ${switcherDefaults.maxStreamsPerClient} |`);
  });
});

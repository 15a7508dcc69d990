import { type Command, Option } from 'commander';
import { transportDefaults } from '../transport/defaults.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log.js';
import { parseDomain, parseTimeout } from './parse.js';
import { PASSWORD_ENV } from './secret.js';

/**
 * Flags shared by several commands, declared once so their names, environment variables and
 * help texts agree everywhere (docs/cli.md lists them).
 */

export const DEFAULT_SWITCHER_URL = 'tcp://127.0.0.1:7000';

/** `--foo-bar` -> `FLEXMUX_FOO_BAR`. */
export function envName(long: string): string {
  return `FLEXMUX_${long.replace(/^--/, '').toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Forgets the FLEXMUX_* variables set to the empty string, before commander reads them: an empty
 * variable counts as unset, as an empty FLEXMUX_PASSWORD always did. commander takes any variable
 * that exists, so `FLEXMUX_CONFIG=` (a shell that clears a setting this way) was a config file
 * named "" ("cannot read config file : ENOENT", no word of the variable), `FLEXMUX_SWITCHER=` an
 * invalid URL, where the user meant the default or the config file's value.
 */
export function forgetEmptyVariables(env: NodeJS.ProcessEnv): void {
  for (const [k, v] of Object.entries(env)) if (k.startsWith('FLEXMUX_') && v === '') delete env[k];
}

/**
 * A flag whose value may also come from FLEXMUX_<NAME>. Switches (flags without a value) get no
 * variable: commander treats any value, even "0", as set; the config file takes true/false.
 * The variable must be set before the option is added to its command, or commander ignores it.
 */
export function flag(flags: string, description: string): Option {
  const o = new Option(flags, description);
  if (!o.isBoolean() && o.long !== undefined) o.env(envName(o.long));
  return o;
}

export interface CommonOpts {
  config?: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export interface ConnectOpts extends CommonOpts {
  switcher: string;
  domain?: string;
  passwordFile?: string;
  ca?: string;
  insecure?: boolean;
  wsZeroMask?: boolean;
  connectTimeout: number;
}

/** --config, --log-level, --log-format: on every command. */
export function addCommonOptions(cmd: Command, defaultLevel: LogLevel): Command {
  return cmd
    .addOption(flag('--config <file>', 'read settings from a YAML file (flags and env vars win)'))
    .addOption(flag('--log-level <level>', 'log threshold').choices(LOG_LEVELS).default(defaultLevel))
    .addOption(
      flag('--log-format <format>', 'pretty lines, or JSON lines; auto: pretty on a terminal')
        .choices(LOG_FORMATS)
        .default('auto'),
    );
}

/**
 * How a node reaches a switcher. The domain takes FLEXMUX_DOMAIN only for `node`: a one-shot
 * `dial` or `ping` in the same shell must not try to take over the node's domain.
 */
export function addConnectOptions(cmd: Command, o: { domainRequired: boolean }): Command {
  const domain = new Option(
    '-d, --domain <name>',
    o.domainRequired
      ? 'the domain this node registers (required)'
      : 'the domain to register (default: random)',
  ).argParser(parseDomain);
  if (o.domainRequired) domain.env('FLEXMUX_DOMAIN');
  return cmd
    .addOption(
      flag('-s, --switcher <url>', 'switcher URL: tcp://, tls://, ws:// or wss://').default(
        DEFAULT_SWITCHER_URL,
      ),
    )
    .addOption(domain)
    .addOption(flag('--password-file <file>', `read the password from a file (else ${PASSWORD_ENV})`))
    .addOption(flag('--ca <file>', 'PEM CA certificate(s) to trust for tls:// and wss://'))
    .addOption(new Option('--insecure', 'do not verify the TLS certificate of the switcher'))
    .addOption(
      new Option(
        '--ws-zero-mask',
        'ws:// and wss://: send frames with an all-zero masking key (faster uploads; docs/cli.md)',
      ),
    )
    .addOption(
      flag('--connect-timeout <duration>', 'time allowed for one connection attempt and admission')
        .argParser((v) => parseTimeout(v))
        .default(transportDefaults.connectTimeout, `${transportDefaults.connectTimeout / 1000}s`),
    );
}

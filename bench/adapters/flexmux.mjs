// flexmux adapter for the shared mux-bench harness (../shared/bench, README "Writing an adapter").
// It runs inside the harness's client and server processes, which live in a copy of the harness
// elsewhere on disk, so our build is imported by an absolute URL computed from this file's place
// in the repo: <repo>/bench/adapters/flexmux.mjs -> <repo>/dist/index.js (run `npm run build`).
const distUrl = new URL('../../dist/index.js', import.meta.url);
const { Node, tcpTransport } = await import(distUrl.href);

/** Virtual port the server listens on; the client dials it by domain over the direct link. */
const PORT = 80;

// Raised so S3 (thousands of opens per second) and S6 (10 000 idle streams) measure the muxer,
// not a guard rail; everything else (2 MiB window, 64 KiB frames to a flexmux peer, 256 KiB
// per-stream write buffer, DRR quantum 64 KiB) stays at the library default.
export const nodeOptions = {
  maxStreams: 1 << 20,
  maxPendingDials: 60_000,
  backlog: 1 << 20,
  heartbeatInterval: 0,
};

const baseSettings =
  'maxStreams=1048576 (default 16384), maxPendingDials=60000 (default 4096), ' +
  'backlog=1048576 (default 32), heartbeatInterval=0 (default 15 s)';

function report(side) {
  // The peer closing the connection at the end of a run is not worth a log line.
  return (err) => {
    if (err?.code !== 'FLEX_ERR_CONNECTION_CLOSED') console.error(`[flexmux ${side}]`, err?.message ?? err);
  };
}

/**
 * The adapter with extra Node options, for tuning experiments: a two-line wrapper file such as
 * `export const { name, settings, server, client } = flexmuxAdapter({ window: 512 * 1024 }, 'w512k')`
 * gives a second row next to the default one.
 */
export function flexmuxAdapter(overrides = {}, label = '') {
  const options = { ...nodeOptions, ...overrides };
  const extra = Object.entries(overrides).map(([k, v]) => `${k}=${v}`);
  return {
    name: label ? `flexmux-${label}` : 'flexmux',
    settings: extra.length
      ? `${baseSettings}; ${extra.join(', ')}; other options default`
      : `${baseSettings}; other options default (2 MiB window, 64 KiB frames, 256 KiB stream high-water mark)`,
    async server(socket, onStream) {
      const node = new Node(tcpTransport(socket), { ...options, ip: 2, domain: 'server' });
      node.on('error', report('server'));
      // 'stream' fires synchronously as each stream is accepted, as the harness requires.
      node.listen(PORT).on('stream', onStream);
    },
    async client(socket) {
      const node = new Node(tcpTransport(socket), { ...options, ip: 1, domain: 'client' });
      node.on('error', report('client'));
      return {
        openStream: () => node.dial(`server:${PORT}`),
        async close() {
          const t = setTimeout(() => node.destroy(), 500);
          try {
            await node.close();
          } finally {
            clearTimeout(t);
          }
        },
      };
    },
  };
}

export const packages = [];
export const { name, settings, server, client } = flexmuxAdapter();

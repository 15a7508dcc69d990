// What the dashboard shows for each mode: table columns, summary cards and row details.
//
// A column's `width` is its content's width in `ch` (the width of a digit): enough for the
// longest text its format gives ("1023.9 KiB/s") and for its heading with the sort arrow. The
// columns without one (domains, addresses) share what is left, cut short with an ellipsis and
// shown whole on hover, as is a `clip` column's text that outgrows its width.
//
// An operator reads domains and addresses, so at a 1280 px window the switcher's must show the
// common ones whole: the remote address has a width of its own, that of the longest IPv4
// address with its port (a long IPv6 one is cut), and the domain takes the rest, some 16 ch.
// A node's must show its peers whole (nodeColumns).

import * as fmt from './format.js';

const switcherColumns = [
  { key: 'domain', label: 'Domain' },
  { key: 'ip', label: 'IP', num: true, width: 5 },
  // "255.255.255.255:65535": its dots and colon are narrower than a digit (1 ch).
  { key: 'remoteAddress', label: 'Remote', width: 19.5, clip: true },
  // How long it has been connected; headed "Age", as "Connected" and its arrow took 2 ch more
  // than "9999d 23h".
  { key: 'connectedAt', label: 'Age', width: 8.5, cell: (c) => fmt.since(c.connectedAt) },
  { key: 'streams', label: 'Streams', num: true, width: 8.5, cell: (c) => fmt.count(c.streams) },
  { key: 'bytesIn', label: 'In', num: true, width: 9, cell: (c) => fmt.bytes(c.bytesIn) },
  { key: 'bytesOut', label: 'Out', num: true, width: 9, cell: (c) => fmt.bytes(c.bytesOut) },
  { key: 'rateIn', label: 'Rate in', num: true, width: 10, cell: (c) => fmt.rate(c.rateIn) },
  { key: 'rateOut', label: 'Rate out', num: true, width: 10, cell: (c) => fmt.rate(c.rateOut) },
  { key: 'rttMs', label: 'RTT', num: true, width: 7, cell: (c) => fmt.ms(c.rttMs) },
  { key: 'traffic', label: 'Traffic', spark: true },
  { key: 'kick', label: '', action: { label: 'Kick', className: 'kick' } },
];

// A node's table fits a 1280 px window with room to spare for the peer: the node's own domain,
// the same on every row, is left out of its Local column (its port alone, headed "Port"); the
// direction is an arrow before the peer, not a column "Dir" of its own (whose heading had no
// room for its sort arrow); and the negotiated window, the same for nearly every stream, is in
// the details only. With thirteen columns the Local and Remote ones had some 124 px each at
// 1280 px, and `build-agent-0042:1000` was cut in both.
const nodeColumns = [
  {
    key: 'local',
    label: 'Port',
    num: true,
    width: 5.5,
    sort: (s) => s.local.port,
    cell: (s) => String(s.local.port),
  },
  {
    key: 'remote',
    label: 'Peer',
    sort: (s) => fmt.address(s.remote),
    // The arrow points away from the end that dialled, as in the row's name (fmt.streamName).
    cell: (s) => `${s.dialed ? '→' : '←'} ${fmt.address(s.remote)}`,
  },
  { key: 'state', label: 'State', width: 6.5 },
  {
    key: 'receiveBuffered',
    label: 'Recv buf',
    num: true,
    width: 9,
    cell: (s) => fmt.bytes(s.receiveBuffered),
  },
  {
    key: 'writeBuffered',
    label: 'Write buf',
    num: true,
    width: 9.5,
    cell: (s) => fmt.bytes(s.writeBuffered),
  },
  { key: 'bytesRead', label: 'Read', num: true, width: 9, cell: (s) => fmt.bytes(s.bytesRead) },
  { key: 'bytesWritten', label: 'Written', num: true, width: 9, cell: (s) => fmt.bytes(s.bytesWritten) },
  { key: 'rateIn', label: 'Rate in', num: true, width: 10, cell: (s) => fmt.rate(s.rateIn) },
  { key: 'rateOut', label: 'Rate out', num: true, width: 10, cell: (s) => fmt.rate(s.rateOut) },
  { key: 'rttMs', label: 'RTT', num: true, width: 7, cell: (s) => fmt.ms(s.rttMs) },
  { key: 'traffic', label: 'Traffic', spark: true },
];

export const modes = {
  switcher: {
    title: 'Clients',
    columns: switcherColumns,
    sortKey: 'domain',
    // A row per connection: a node that reconnects is a new client (a new id) under the same
    // domain, and the old connection may leave after the new one is listed.
    keyOf: (c) => c.id,
    nameOf: (c) => c.domain,
    text: (c) => `${c.domain} ${c.ip} ${c.remoteAddress}`,
    list: 'clients',
    items: (snap) => snap.clients,
    cards: (t) => [
      ['Clients', fmt.count(t.clients)],
      // Each stream once: t.streams counts a stream at both of its ends.
      ['Streams', fmt.count(t.openStreams)],
      ['Received', fmt.rate(t.rateIn)],
      ['Sent', fmt.rate(t.rateOut)],
      ['Forwarded frames', fmt.count(t.forwarded)],
      ['Dropped', fmt.count(t.dropped)],
      ['Spoofed', fmt.count(t.spoofed)],
      ['Refused', fmt.count(t.refused)],
    ],
    detail: (c) => [
      ['Domain', c.domain],
      ['Virtual IP', String(c.ip)],
      ['Remote', c.remoteAddress],
      ['Connected', `${c.connectedAt} (${fmt.since(c.connectedAt)})`],
      ['Streams open', fmt.count(c.streams)],
      ['Streams opened', fmt.count(c.streamsOpened)],
      ['Frames in / out', `${fmt.count(c.framesIn)} / ${fmt.count(c.framesOut)}`],
      // Counts grouped by thousands as everywhere else on the page ("data 2240" read oddly next
      // to "2,426" in the line above), so commands are set apart by a dot, not a comma.
      [
        'Frames by command',
        Object.entries(c.framesByCmd)
          .map(([k, v]) => `${k} ${fmt.count(v)}`)
          .join(' · ') || '—',
      ],
      ['Queued to it', fmt.bytes(c.queuedBytes)],
      ['Paused', c.paused ? 'yes (backpressure)' : 'no'],
      ['Dropped / spoofed', `${fmt.count(c.dropped)} / ${fmt.count(c.spoofed)}`],
      ['RTT', fmt.ms(c.rttMs)],
    ],
  },
  node: {
    title: 'Streams',
    columns: nodeColumns,
    sortKey: 'local',
    // A row per stream, by serial: its id is taken again by a later stream between the same
    // ports, and changed by a rebind (docs/admin.md, Deltas).
    keyOf: (s) => s.serial,
    // The row's name and the details' title: its ports and peer, not its key.
    nameOf: fmt.streamName,
    text: (s) => `${fmt.address(s.local)} ${fmt.address(s.remote)} ${s.remote.ip} ${s.state}`,
    list: 'streams',
    items: (snap) => snap.streams,
    cards: (t) => [
      ['Connected', t.connected ? 'yes' : 'no'],
      ['Streams', fmt.count(t.streams)],
      ['Listeners', fmt.count(t.listeners)],
      ['Received', fmt.rate(t.rateIn)],
      ['Sent', fmt.rate(t.rateOut)],
      // The switcher's: the table's RTT column is each stream's peer's, and a card headed "RTT"
      // beside it read as theirs (32 ms over rows of 163 ms).
      ['Switcher RTT', fmt.ms(t.rttMs)],
      ['Buffered', fmt.bytes(t.receiveBuffered + t.writeBuffered)],
      ['Dropped', fmt.count(t.dropped)],
    ],
    detail: (s) => [
      ['Local', fmt.address(s.local)],
      ['Remote', `${fmt.address(s.remote)} (IP ${s.remote.ip})`],
      ['Opened', `${s.dialed ? 'by this node' : 'by the peer'}, ${s.createdAt}`],
      ['State', s.state],
      ['Window / send credit', `${fmt.bytes(s.window)} / ${fmt.bytes(s.sendCredit)}`],
      ['Extensions', [s.halfClose && 'half-close', s.reset && 'reset'].filter(Boolean).join(', ') || 'none'],
      ['Last activity', s.lastActivity],
    ],
  },
};

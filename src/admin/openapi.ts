import { MAX_CLIENT_ID } from './client-id.js';
import { OFFSET_MAX, PAGE_DEFAULT, PAGE_MAX } from './http.js';
import { MAX_KICK_REASON } from './kick-reason.js';
import { packageVersion } from './version.js';

/**
 * The OpenAPI 3.1 description of the admin API, served at /api/v1/openapi.json. A test
 * (test/unit/admin/openapi.test.ts) checks that every route the server registers appears here,
 * with its access, and nothing else does; the dashboard's scripts and style sheets are left out.
 */

/**
 * A JSON Schema or OpenAPI object, as plain data. Not tagged internal: openapiDocument()'s
 * published declaration names it.
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = (description?: string): Schema => ({
  type: 'integer',
  minimum: 0,
  ...(description && { description }),
});
const num = (description: string): Schema => ({ type: 'number', minimum: 0, description });
const str = (description?: string): Schema => ({ type: 'string', ...(description && { description }) });
const time: Schema = { type: 'string', format: 'date-time' };
const obj = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
});

const nextCursor: Schema = {
  type: ['string', 'null'],
  description:
    'Opaque cursor of the next page, to pass as `?cursor=`: it resumes after the last item of this one, so items that come or go meanwhile shift nothing; null on the last page.',
};

const cursorParameter: Schema = {
  name: 'cursor',
  in: 'query',
  required: false,
  description:
    'The `next` of the page before: this page holds the items after its last one. Not with `offset`.',
  schema: { type: 'string', pattern: '^[0-9]{1,15}$' },
};

/** `limit` and `offset` of a paged list (src/admin/http.ts readPage). */
const pageParameters = (limit: string, offset: string): Schema[] => [
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: limit,
    schema: { type: 'integer', minimum: 1, maximum: PAGE_MAX, default: PAGE_DEFAULT },
  },
  {
    name: 'offset',
    in: 'query',
    required: false,
    description: offset,
    schema: { type: 'integer', minimum: 0, maximum: OFFSET_MAX, default: 0 },
  },
];

const json = (schema: Schema, description: string): Schema => ({
  description,
  content: { 'application/json': { schema } },
});

const errors = (...codes: number[]): Record<string, Schema> => {
  const text: Record<number, string> = {
    400: 'Bad input: an invalid domain, reason, body or query parameter, or a query parameter given more than once (the message names it).',
    401: 'The bearer token is missing or wrong.',
    403: 'The Host header is not a name of this server (on loopback: a loopback name or one of allowedHosts), or, without a token configured, a browser sent the request for a page of another origin where a token would be needed.',
    404: 'Nothing there (or served only in the other mode, or the dashboard files are not installed).',
    409: 'The domain is held by another connection than the `id` given (`conflict`): not kicked.',
    413: 'The body is too large.',
    415: 'The body is not application/json.',
    503: 'Too many event streams are open.',
    408: 'The request did not arrive whole in time (30 s); the connection is closed.',
    431: 'The request line and headers are over 16 KiB; the connection is closed.',
  };
  // Any request may get these, before it is routed: Node's HTTP parser and timeouts (client-error.ts).
  return Object.fromEntries([...codes, 408, 431].map((c) => [String(c), json(ref('Error'), text[c])]));
};

const domainParam = {
  name: 'domain',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'A client domain (normalised as the switcher does: case and surrounding space ignored).',
};

const address = obj({ ip: int('Virtual IP.'), port: int(), domain: str() });

const schemas: Record<string, Schema> = {
  Error: obj({
    error: obj({
      code: {
        type: 'string',
        enum: [
          'bad_request',
          'unauthorized',
          'forbidden',
          'not_found',
          'method_not_allowed',
          'conflict',
          'request_timeout',
          'expectation_failed',
          'payload_too_large',
          'headers_too_large',
          'unsupported_media_type',
          'unavailable',
          'internal',
        ],
      },
      message: str(),
    }),
  }),
  Client: obj({
    domain: str(),
    ip: int('Virtual IP (16 bits).'),
    id: int('Admission number, unique while the switcher runs.'),
    mac: str(),
    remoteAddress: str('Address of the connection as the transport reports it.'),
    connectedAt: time,
    streams: int('Streams open through the switcher with this node at one end.'),
    streamsOpened: int(),
    bytesIn: int('Bytes received from the node.'),
    bytesOut: int('Bytes sent to the node.'),
    rateIn: num('Bytes/s received over the last sample interval.'),
    rateOut: num('Bytes/s sent over the last sample interval.'),
    framesIn: int(),
    framesOut: int(),
    framesByCmd: { type: 'object', additionalProperties: { type: 'integer' } },
    dropped: int(),
    spoofed: int(),
    queuedBytes: int('Bytes waiting to be written to the node.'),
    paused: { type: 'boolean', description: 'Reading paused by backpressure.' },
    rttMs: { type: ['number', 'null'], description: 'Last liveness-ping round trip, ms.' },
    earlyRoutes: int('Early-data routes its domain dials hold now (at most 16,384).'),
  }),
  ClientStreams: obj({
    domain: str(),
    ip: int(),
    streams: int(),
    streamsOpened: int(),
    queuedBytes: int(),
    paused: { type: 'boolean' },
    omitted: int('Its open streams not in `list` (left to other pages).'),
    list: {
      type: 'array',
      items: obj({
        id: int('The switcher’s number for the stream, greater for each stream opened after it.'),
        dialer: obj({ domain: str(), ip: int(), port: int() }),
        acceptor: obj({ domain: str(), ip: int(), port: int() }),
        caps: int(
          'Negotiated extensions: 1 half-close, 2 reset, 4 release on FIN, 8 prompt credit, 16 early data.',
        ),
        since: int('Unix ms when the stream opened.'),
      }),
    },
  }),
  Stream: obj({
    id: int(
      'The node’s key for the stream: unique among its open streams, taken again by a later stream between the same ports, changed by a rebind.',
    ),
    serial: int(
      'Greater for each stream opened later in the process, never reused: the key of deltas and `itemHistory`.',
    ),
    local: address,
    remote: address,
    dialed: { type: 'boolean' },
    state: { type: 'string', enum: ['open', 'closing', 'closed'] },
    window: int(),
    sendCredit: int(),
    halfClose: { type: 'boolean' },
    reset: { type: 'boolean' },
    receiveBuffered: int(),
    writeBuffered: int(),
    bytesRead: int(
      'Payload received from the peer, read by the application or not (`receiveBuffered` of it not yet).',
    ),
    bytesWritten: int('Payload handed to the connection.'),
    rateIn: num('Bytes/s received (`bytesRead`) over the last sample interval.'),
    rateOut: num('Bytes/s handed to the connection (`bytesWritten`) over the last sample interval.'),
    createdAt: time,
    lastActivity: time,
    rttMs: { type: ['number', 'null'], description: 'RTT of the last ping to the remote domain, ms.' },
  }),
  SwitcherInfo: obj({
    mode: { const: 'switcher' },
    version: str('flexmux version.'),
    protocol: int('Protocol version.'),
    startedAt: time,
    uptimeSeconds: num('Seconds since the switcher started.'),
    totals: obj({
      clients: int('Nodes admitted and connected now.'),
      pendingAdmissions: int('Connections in admission.'),
      admitted: int('Admissions since the switcher started.'),
      refused: int('Connections refused since the switcher started.'),
      streams: int('Open streams summed over clients (a stream counts at each end).'),
      openStreams: int('Open streams, each counted once.'),
      bytesIn: int('Bytes received from the nodes.'),
      bytesOut: int('Bytes written to the nodes.'),
      rateIn: num('Bytes/s received over the last sample interval.'),
      rateOut: num('Bytes/s written over the last sample interval.'),
      forwarded: int('Frames forwarded from one node to another.'),
      dropped: int('Frames dropped.'),
      spoofed: int('Frames dropped for a source IP not the sender’s own.'),
      ignored: int('Frames addressed to the switcher that it does not handle.'),
      queuedBytes: int('Bytes waiting to be written to the nodes, those leaving included.'),
    }),
    limits: obj({
      maxClients: int(),
      maxPendingAdmissions: int(),
      admissionTimeout: int('ms.'),
      idleTimeout: int('ms; 0: none.'),
      maxQueuePerSource: int('Bytes.'),
      maxQueuePerClient: int('Bytes.'),
    }),
    admin: obj({ sampleInterval: int('ms.'), tokenRequired: { type: 'boolean' } }),
  }),
  NodeInfo: obj({
    mode: { const: 'node' },
    version: str('flexmux version.'),
    protocol: int('Protocol version.'),
    domain: str(),
    ip: int('Virtual IP (0 before the first admission).'),
    state: { type: 'string', enum: ['connecting', 'ready', 'backoff', 'closed'] },
    remoteAddress: {
      type: ['string', 'null'],
      description: 'The switcher’s address; null before a connection.',
    },
    connections: int('Connections made (a session’s reconnections count).'),
    totals: obj({
      connected: { type: 'boolean' },
      streams: int('Open streams.'),
      listeners: int('Ports listened on.'),
      bytesIn: int('Bytes received, over every connection of a session.'),
      bytesOut: int('Bytes written, over every connection of a session.'),
      rateIn: num('Bytes/s received over the last sample interval.'),
      rateOut: num('Bytes/s written over the last sample interval.'),
      framesIn: int('Frames received.'),
      dropped: int('Frames received and dropped.'),
      streamsOpened: int('Streams dialled whose open was accepted.'),
      streamsAccepted: int('Streams opened by the peer and accepted.'),
      receiveBuffered: int('Bytes received and not yet read, over the streams.'),
      writeBuffered: int('Bytes written and not yet sent, over the streams.'),
      controlQueue: int('Control frames waiting for the connection.'),
      rttMs: { type: ['number', 'null'], description: 'RTT of the last ping to the switcher, ms.' },
    }),
    listeners: { type: 'array', items: int('A port listened on.') },
    admin: obj({
      sampleInterval: int('ms.'),
      pingInterval: int('ms; 0: no pings.'),
      tokenRequired: { type: 'boolean' },
    }),
  }),
};

const secured = [{ bearer: [] }];

function op(
  summary: string,
  description: string,
  responses: Record<string, Schema>,
  extra: Schema = {},
): Schema {
  return { summary, description, security: secured, responses, ...extra };
}

/** The OpenAPI 3.1 document of the admin API, as the server serves it at `/api/v1/openapi.json`. */
export function openapiDocument(): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'flexmux admin API',
      version: packageVersion(),
      description: 'Read-mostly view of a flexmux switcher or node. See docs/admin.md.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Only enforced when a token is configured.' },
        queryToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'For EventSource.' },
      },
      schemas,
    },
    paths: {
      '/api/v1/info': {
        get: op('What is served', 'Versions, totals and limits of the switcher or node.', {
          200: json({ oneOf: [ref('SwitcherInfo'), ref('NodeInfo')] }, 'Info document.'),
          ...errors(401, 403),
        }),
      },
      '/api/v1/clients': {
        get: op(
          'List clients (switcher)',
          'The admitted clients, with rates and RTT, one page at a time.',
          {
            200: json(
              obj({
                count: int('Clients in all.'),
                next: nextCursor,
                clients: { type: 'array', items: ref('Client') },
              }),
              'Clients.',
            ),
            ...errors(400, 401, 403, 404),
          },
          {
            parameters: [
              ...pageParameters(
                'Clients per page.',
                'Clients to skip (in the order they were admitted); clients that leave or join meanwhile shift the pages: follow `next` instead.',
              ),
              cursorParameter,
            ],
          },
        ),
      },
      '/api/v1/clients/{domain}': {
        parameters: [domainParam],
        get: op('One client (switcher)', 'The client holding the domain.', {
          200: json(obj({ client: ref('Client') }), 'The client.'),
          ...errors(400, 401, 403, 404),
        }),
        delete: op(
          'Kick a client (switcher)',
          'Closes the client’s connection gracefully. The reason comes from `?reason=` or a JSON body `{"reason": "..."}`. With `?id=` (or `"id"` in the body), only if the domain is held by the connection of that `id` (Client.id): else 409 `conflict`, and the holder (say, the node reconnected) stays.',
          {
            200: json(
              obj({
                kicked: obj({ domain: str(), id: int('The connection kicked.'), ip: int(), reason: str() }),
              }),
              'Kicked.',
            ),
            ...errors(400, 401, 403, 404, 409, 413, 415),
          },
          {
            parameters: [
              {
                name: 'reason',
                in: 'query',
                required: false,
                schema: { type: 'string', maxLength: MAX_KICK_REASON },
              },
              {
                name: 'id',
                in: 'query',
                required: false,
                description: 'Kick only the connection with this id (Client.id): 1 to 15 digits.',
                schema: { type: 'integer', minimum: 0, maximum: MAX_CLIENT_ID },
              },
            ],
            requestBody: {
              required: false,
              content: {
                'application/json': {
                  schema: obj(
                    {
                      reason: { type: 'string', maxLength: MAX_KICK_REASON },
                      id: {
                        type: 'integer',
                        minimum: 0,
                        maximum: MAX_CLIENT_ID,
                        description: 'As `?id=`, which wins when both are given.',
                      },
                    },
                    [],
                  ),
                },
              },
            },
          },
        ),
      },
      '/api/v1/streams': {
        get: op(
          'Streams',
          'Node: the live streams, optionally those whose peer is one domain. Switcher: per-client stream counts and each stream (`detail: "streams"`), optionally for one domain. One page at a time.',
          {
            200: json(
              {
                oneOf: [
                  obj({
                    count: int('Streams in all (with `domain`, to that peer).'),
                    next: nextCursor,
                    streams: { type: 'array', items: ref('Stream') },
                  }),
                  obj({
                    detail: { const: 'streams' },
                    count: int('Clients in all (1 with `domain`).'),
                    next: nextCursor,
                    clients: { type: 'array', items: ref('ClientStreams') },
                  }),
                ],
              },
              'Streams.',
            ),
            ...errors(400, 401, 403, 404),
          },
          {
            parameters: [
              { name: 'domain', in: 'query', required: false, schema: { type: 'string' } },
              ...pageParameters(
                'Streams per page (switcher: stream entries, and clients).',
                'Node: streams to skip. Switcher: clients to skip; with `domain`, streams of that client. What comes or goes meanwhile shifts the pages: follow `next` instead.',
              ),
              {
                ...cursorParameter,
                description: `${cursorParameter.description} Node: the streams opened after it; switcher: the clients admitted after it, with \`domain\` that client's streams opened after it.`,
              },
            ],
          },
        ),
      },
      '/api/v1/listeners': {
        get: op('Listeners (node)', 'Virtual ports the node listens on.', {
          200: json(obj({ listeners: { type: 'array', items: obj({ port: int() }) } }), 'Listeners.'),
          ...errors(401, 403, 404),
        }),
      },
      '/api/v1/events': {
        get: {
          ...op(
            'Live events (SSE)',
            'Server-Sent Events: `hello` (history and a snapshot), then `snapshot` after every sample, and ' +
              '`client`, `clientLeft`, `refused` (switcher) or `state` and `listener` `{port, open}` (node) as they happen. ' +
              'With `delta=1`, `delta` events `{t, totals, omitted, set, gone}` replace `snapshot`: ' +
              'the fields of listed items that changed since the previous sample, by key: the client `id` ' +
              '(switcher; a reconnected node is a new client under the same domain) or the stream `serial` ' +
              '(node; its `id` is reused and changed by rebinds), as a string; `hello.itemHistory` uses the same keys. ' +
              'gzip-compressed (flushed after every event) when `Accept-Encoding` accepts gzip.',
            {
              200: { description: 'An event stream.', content: { 'text/event-stream': {} } },
              ...errors(400, 401, 403, 503),
            },
            {
              parameters: [
                {
                  name: 'delta',
                  in: 'query',
                  required: false,
                  description:
                    '`1`: `delta` events instead of `snapshot` events (what the dashboard asks for). Absent: `snapshot` events. Any other value is a 400.',
                  schema: { type: 'string', enum: ['1'] },
                },
              ],
            },
          ),
          security: [{ bearer: [] }, { queryToken: [] }],
        },
      },
      '/api/v1/openapi.json': {
        get: {
          summary: 'This document',
          security: [],
          responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1.'), ...errors(403) },
        },
      },
      '/metrics': {
        get: op('Prometheus metrics', 'Text exposition format 0.0.4.', {
          200: { description: 'Metrics.', content: { 'text/plain': {} } },
          ...errors(401, 403),
        }),
      },
      '/healthz': {
        get: {
          summary: 'Liveness',
          security: [],
          responses: {
            200: json(obj({ ok: { const: true } }), 'Up.'),
            ...errors(403),
            503: json(ref('Error'), 'The switcher (or node, or session) is closing or closed.'),
          },
        },
      },
      '/': {
        get: {
          summary: 'Dashboard page',
          security: [],
          responses: { 200: { description: 'HTML.' }, ...errors(403, 404) },
        },
      },
    },
  };
}

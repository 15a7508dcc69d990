/** The admin HTTP server, Prometheus metrics and dashboard (Node.js only). See docs/admin.md. */

export {
  type CliMetricsSources,
  cliMetrics,
  type ReloadCountsView,
  type ServedCertificateView,
} from './cli-metrics.js';
export {
  type AdminNode,
  type AdminOptions,
  adminDefaults,
  type InspectableNode,
  type InspectableSession,
  isLoopback,
  type ResolvedAdminOptions,
  validateAdminOptions,
} from './config.js';
export type { NodeSnapshot, NodeTotals, StreamView } from './node-view.js';
export { openapiDocument } from './openapi.js';
export { type AdminServer, startAdmin } from './server.js';
export type { ClientStreamsView, ClientView, SwitcherSnapshot, SwitcherTotals } from './switcher-view.js';

/** The relay server, runtime-neutral: hand it connected transports with `handle()`. */

export {
  type AccessOptions,
  AccessPolicy,
  type Credential,
  compilePatterns,
  type DialRule,
  type ExtraPassword,
  type Matcher,
} from './access.js';
export { REFUSAL_REASONS, type Refusal, type RefusalReason } from './admission.js';
export {
  type ClientCounters,
  type ClientInfo,
  LEAVE_REASONS,
  type LeaveReason,
  type StreamInfo,
} from './client.js';
export {
  type ResolvedSwitcherOptions,
  type SwitcherOptions,
  switcherDefaults,
  validateSwitcherOptions,
} from './config.js';
export { domainFingerprint, type IpAssignment, IpPool, ipAssignments } from './ip-pool.js';
export {
  type Claim,
  type ClaimRefusal,
  type ClaimResult,
  type Registrant,
  Registry,
  type RegistryHooks,
} from './registry.js';
export { DIAL_NOT_ALLOWED, type RouterCounters } from './router.js';
export { type RefusalInfo, Switcher, type SwitcherEvents, type SwitcherStats } from './switcher.js';
export type { ClientTotals } from './totals.js';

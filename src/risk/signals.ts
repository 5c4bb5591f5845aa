/**
 * @module risk/signals
 * The thresholds of every risk signal and the rule that turns figures into an alert. Pure:
 * no I/O, so each rule is tested exhaustively beside it.
 */

export const SIGNALS = [
  'volume_spike',
  'opt_out_rate',
  'delivery_failure_rate',
  'carrier_opt_outs',
  'carrier_filtering',
  'carrier_cap_errors',
  'guard_diversions',
  'guard_rejections',
  'portal_verification_failures',
  'portal_lockouts',
  'break_glass_use',
  'logins_many_addresses',
] as const;
export type Signal = (typeof SIGNALS)[number];

export type Severity = 'warning' | 'critical';
export type ScopeType = 'organisation' | 'sender' | 'program' | 'campaign';

/** What a signal was measured over. */
export interface Scope {
  type: ScopeType;
  id: string;
}

const SCOPE_WORDS: Record<ScopeType, string> = {
  organisation: 'this organisation',
  sender: 'this sender',
  program: 'this program',
  campaign: 'this campaign',
};

/** What a critical finding stops until an admin resumes it. */
const PAUSES: Record<ScopeType, string> = {
  organisation: 'its senders are paused',
  sender: 'the sender is paused',
  program: 'the senders of this program are paused',
  campaign: 'the campaign is paused',
};

export interface Figures {
  readonly [name: string]: number;
}

export interface Finding {
  signal: Signal;
  severity: Severity;
  scopeType: ScopeType;
  scopeId: string;
  explanation: string;
  figures: Figures;
}

/**
 * Thresholds. The opt-out alert at 2 % of delivered in 24 h follows carrier guidance for
 * 10DLC/toll-free traffic (CTIA Messaging Principles: opt-out rates above ~2 % draw filtering
 * and audits); a critical threshold pauses the sender before the carrier suspends it.
 */
export const THRESHOLDS = {
  /** Delivered texts in 24 h before a rate is meaningful. */
  minVolume: 50,
  optOutWarn: 0.02,
  optOutCritical: 0.05,
  failureWarn: 0.1,
  failureCritical: 0.3,
  /** Last hour against the hourly average of the 24 h before it. */
  spikeWarn: 5,
  spikeCritical: 20,
  spikeMinCount: 100,
  carrierOptOutsWarn: 10,
  /** Texts carriers refused as spam or filtered, in 24 h. */
  carrierFilteringWarn: 5,
  /** Texts carriers held back for throughput or daily caps, in 24 h. */
  carrierCapErrorsWarn: 20,
  guardDiversionsWarn: 200,
  guardRejectionsWarn: 50,
  verifyFailuresWarn: 20,
  lockoutsWarn: 5,
  loginAddressesWarn: 5,
} as const;

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

export function optOutFinding(scope: Scope, optOuts: number, delivered: number): Finding | null {
  if (delivered < THRESHOLDS.minVolume) return null;
  const rate = optOuts / delivered;
  if (rate <= THRESHOLDS.optOutWarn) return null;
  const critical = rate > THRESHOLDS.optOutCritical;
  return {
    signal: 'opt_out_rate',
    severity: critical ? 'critical' : 'warning',
    scopeType: scope.type,
    scopeId: scope.id,
    explanation:
      `${optOuts} recipients of ${SCOPE_WORDS[scope.type]} opted out in the last 24 hours: ${pct(rate)} of ${delivered} delivered texts ` +
      `(alert above ${pct(THRESHOLDS.optOutWarn)}${critical ? `; above ${pct(THRESHOLDS.optOutCritical)} ${PAUSES[scope.type]}` : ''}). ` +
      'Check who is being texted and whether they asked for it.',
    figures: { optOuts, delivered, rate },
  };
}

export function failureFinding(scope: Scope, failed: number, attempted: number): Finding | null {
  if (attempted < THRESHOLDS.minVolume) return null;
  const rate = failed / attempted;
  if (rate <= THRESHOLDS.failureWarn) return null;
  const critical = rate > THRESHOLDS.failureCritical;
  return {
    signal: 'delivery_failure_rate',
    severity: critical ? 'critical' : 'warning',
    scopeType: scope.type,
    scopeId: scope.id,
    explanation:
      `${pct(rate)} of ${attempted} texts of ${SCOPE_WORDS[scope.type]} failed in the last 24 hours` +
      `${critical ? `; above ${pct(THRESHOLDS.failureCritical)} ${PAUSES[scope.type]}` : ''}. ` +
      'Carriers may be filtering them, or the numbers texted may be stale.',
    figures: { failed, attempted, rate },
  };
}

export function spikeFinding(
  senderId: string,
  lastHour: number,
  previous24h: number,
): Finding | null {
  const baseline = Math.max(1, previous24h / 24);
  const ratio = lastHour / baseline;
  if (lastHour < THRESHOLDS.spikeMinCount || ratio < THRESHOLDS.spikeWarn) return null;
  const critical = ratio >= THRESHOLDS.spikeCritical;
  return {
    signal: 'volume_spike',
    severity: critical ? 'critical' : 'warning',
    scopeType: 'sender',
    scopeId: senderId,
    explanation:
      `This sender accepted ${lastHour} texts in the last hour, ${ratio.toFixed(1)} times its hourly ` +
      'average over the day before. A runaway integration or a leaked API key looks like this.',
    figures: { lastHour, baselinePerHour: baseline, ratio },
  };
}

/** A count over a window against a fixed threshold: always a warning, never a pause. */
export function countFinding(
  signal: Signal,
  orgId: string,
  count: number,
  threshold: number,
  explanation: string,
): Finding | null {
  if (count < threshold) return null;
  return {
    signal,
    severity: 'warning',
    scopeType: 'organisation',
    scopeId: orgId,
    explanation,
    figures: { count, threshold },
  };
}

/**
 * @module risk/signals
 * The thresholds of every risk signal and the rule that turns figures into an alert. Pure:
 * no I/O, so each rule is tested exhaustively beside it.
 *
 * Each rule takes an optional `since`: when an alert on the same signal and scope was
 * resolved within the window, the monitor counts only what happened after that resolution
 * (risk/index.ts); the explanation then says so, and the figures carry it as `since`
 * (epoch milliseconds).
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

/** The period a count covers: the window, or since an alert on it was resolved. */
export function periodWords(since: number | undefined, window = 'in the last 24 hours'): string {
  return since === undefined
    ? window
    : `since an alert on it was resolved at ${new Date(since).toISOString()}`;
}

const withSince = (figures: Figures, since: number | undefined): Figures =>
  since === undefined ? figures : { ...figures, since };

export function optOutFinding(
  scope: Scope,
  optOuts: number,
  delivered: number,
  since?: number,
): Finding | null {
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
      `${optOuts} recipients of ${SCOPE_WORDS[scope.type]} opted out ${periodWords(since)}: ${pct(rate)} of ${delivered} delivered texts ` +
      `(alert above ${pct(THRESHOLDS.optOutWarn)}${critical ? `; above ${pct(THRESHOLDS.optOutCritical)} ${PAUSES[scope.type]}` : ''}). ` +
      'Check who is being texted and whether they asked for it.',
    figures: withSince({ optOuts, delivered, rate }, since),
  };
}

export function failureFinding(
  scope: Scope,
  failed: number,
  attempted: number,
  since?: number,
): Finding | null {
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
      `${pct(rate)} of ${attempted} texts of ${SCOPE_WORDS[scope.type]} failed ${periodWords(since)}` +
      `${critical ? `; above ${pct(THRESHOLDS.failureCritical)} ${PAUSES[scope.type]}` : ''}. ` +
      'Carriers may be filtering them, or the numbers texted may be stale.',
    figures: withSince({ failed, attempted, rate }, since),
  };
}

export function spikeFinding(
  senderId: string,
  lastHour: number,
  previous24h: number,
  since?: number,
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
      `This sender accepted ${lastHour} texts ${periodWords(since, 'in the last hour')}, ${ratio.toFixed(1)} times its hourly ` +
      'average over the day before. A runaway integration or a leaked API key looks like this.',
    figures: withSince({ lastHour, baselinePerHour: baseline, ratio }, since),
  };
}

/** A count over a window against a fixed threshold: always a warning, never a pause. */
export function countFinding(
  signal: Signal,
  orgId: string,
  count: number,
  threshold: number,
  explanation: string,
  since?: number,
): Finding | null {
  if (count < threshold) return null;
  return {
    signal,
    severity: 'warning',
    scopeType: 'organisation',
    scopeId: orgId,
    explanation,
    figures: withSince({ count, threshold }, since),
  };
}

/** The signals counted against a fixed threshold: always warnings, never a pause. */
export const COUNT_SIGNALS = {
  carrier_opt_outs: {
    threshold: THRESHOLDS.carrierOptOutsWarn,
    explain: (n: number, period: string) =>
      `Carriers reported ${n} recipients as opted out ${period}; texts to them were refused.`,
  },
  carrier_filtering: {
    threshold: THRESHOLDS.carrierFilteringWarn,
    explain: (n: number, period: string) =>
      `Carriers blocked ${n} texts as spam ${period}. Check the sender's registration (10DLC / toll-free verification) and that texts go only to people who asked for them.`,
  },
  carrier_cap_errors: {
    threshold: THRESHOLDS.carrierCapErrorsWarn,
    explain: (n: number, period: string) =>
      `Carriers held back ${n} texts for throughput or daily caps ${period}. Lower the sender's rate limit or add senders.`,
  },
  guard_diversions: {
    threshold: THRESHOLDS.guardDiversionsWarn,
    explain: (n: number, period: string) =>
      `${n} texts ${period} held health information and went to the secure portal instead. Check that integrations use templates and secure messages on purpose.`,
  },
  guard_rejections: {
    threshold: THRESHOLDS.guardRejectionsWarn,
    explain: (n: number, period: string) =>
      `The content guard refused ${n} texts ${period} because they held health information. An integration may be putting results or medications in plain texts; send those as secure messages.`,
  },
  portal_verification_failures: {
    threshold: THRESHOLDS.verifyFailuresWarn,
    explain: (n: number, period: string) =>
      `${n} failed identity checks on secure-message links ${period}: texts may be reaching the wrong people, or someone is guessing.`,
  },
  portal_lockouts: {
    threshold: THRESHOLDS.lockoutsWarn,
    explain: (n: number, period: string) =>
      `${n} secure-message links locked after too many failed checks ${period}.`,
  },
  break_glass_use: {
    threshold: 1,
    explain: (n: number, period: string) =>
      `Emergency (break-glass) access was used ${n} time(s) ${period}; review each use.`,
  },
  logins_many_addresses: {
    threshold: THRESHOLDS.loginAddressesWarn,
    explain: (n: number, period: string) =>
      `One user signed in from ${n} different addresses ${period}: shared or stolen credentials look like this.`,
  },
} as const satisfies Partial<
  Record<Signal, { threshold: number; explain: (n: number, period: string) => string }>
>;
export type CountSignal = keyof typeof COUNT_SIGNALS;

/** A count signal against its threshold, explained over the window or since `since`. */
export function countSignalFinding(
  signal: CountSignal,
  orgId: string,
  count: number,
  since?: number,
): Finding | null {
  const c = COUNT_SIGNALS[signal];
  return countFinding(
    signal,
    orgId,
    count,
    c.threshold,
    c.explain(count, periodWords(since)),
    since,
  );
}

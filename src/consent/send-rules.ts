/**
 * @module consent/send-rules
 * Quiet hours and frequency caps in the send path. At acceptance it plans when a message may
 * go (the next opening when quiet hours hold it) and which caps the accepting transaction
 * must apply; at dispatch it checks both again, because time passes and a retry may fall
 * outside the window. It also reads and changes each organisation's settings (its own
 * window, programs exempt from quiet hours, caps and what happens over one), which the
 * organisation stores and audits.
 *
 * The rules themselves are pure (quiet-hours, caps, state-rules); this module finds the
 * recipient's zones and states (timezones) and the organisation's settings, and caches what
 * it computes, since every message passes through here.
 */
import { AppError, type ErrorCode } from '../errors/index.js';
import type { Actor, AuditDetails } from '../audit/index.js';
import { PROGRAMS, type Program } from '../messaging/index.js';
import {
  applyCaps,
  capPolicyFor,
  checkCaps,
  CAP_MODES,
  DEFAULT_CAP_SETTINGS,
  rulesFor,
  validateProgramCap,
  type CapMode,
  type CapSettings,
  type PendingCaps,
  type ProgramCap,
} from './caps.js';
import {
  DEFAULT_QUIET_WINDOW,
  formatWindow,
  openIntervals,
  openingIn,
  parseWindow,
  windowWithin,
  type DayWindow,
  type Interval,
  type QuietHoursRules,
} from './quiet-hours.js';
import { STATE_MARKETING_CAPS, STATE_QUIET_HOURS } from './state-rules.js';
import {
  TimeZoneResolver,
  type RecipientLocation,
  type RecipientLocationInput,
} from './timezones.js';

export type { CapDecision, PendingCaps } from './caps.js';

const identity = (t: number) => t;

/** An organisation's settings and what the send path derives from them, cached together. */
interface OrgRules {
  settings: MessagingSettings;
  /** Its own window, parsed. */
  window: DayWindow | null;
}

/** What every message of one organisation to recipients in one place shares. */
interface Context {
  org: OrgRules;
  loc: RecipientLocation;
  /** The next instant at or after `t` quiet hours allow (`identity` when they are off). */
  opening: (t: number) => number;
  /** Caps by program. */
  caps: Map<Program, PendingCaps | null>;
}

/** What moved a message later than asked. */
export type HeldBy = 'quiet_hours' | 'frequency_cap';

/** Programs an organisation may exempt from quiet hours: never marketing (47 CFR § 64.1200(c)(1)). */
export const EXEMPTIBLE_PROGRAMS: readonly Program[] = ['care', 'billing', 'surveys'];

export interface QuietHoursSettings {
  /** `HH:MM-HH:MM`, within the installation's window; null: the installation's. */
  window: string | null;
  /** Programs quiet hours never hold (e.g. urgent same-day care changes). */
  exemptPrograms: Program[];
}

export interface MessagingSettings {
  quietHours: QuietHoursSettings;
  caps: CapSettings;
}

export const DEFAULT_MESSAGING_SETTINGS: Readonly<MessagingSettings> = Object.freeze({
  quietHours: Object.freeze({ window: null, exemptPrograms: [] }),
  caps: DEFAULT_CAP_SETTINGS,
});

/** Where the organisation's settings are kept (orgs owns them, as JSON, and audits changes). */
export interface MessagingSettingsStore {
  messagingSettings(orgId: string): Promise<string | null>;
  setMessagingSettings(
    orgId: string,
    json: string,
    details: AuditDetails,
    actor: Actor,
  ): Promise<void>;
}

/** A recipient's other messages in a program (messaging owns them). */
export interface SendHistory {
  capHistory(
    orgId: string,
    toIndex: string,
    program: Program,
    excludeId: string,
  ): Promise<{ logged: number[]; exact(): Promise<number[]> }>;
  relogCap(orgId: string, toIndex: string, program: Program, id: string, at: number): Promise<void>;
}

export interface SendRulesConfig {
  /** TIDINGS_QUIET_HOURS. */
  quietHours: DayWindow | 'off';
  /** TIDINGS_FREQUENCY_CAPS. */
  frequencyCaps: boolean;
}

/** What the accept path is told about one message. */
export interface AcceptPlan {
  /** When it may go: the requested time, or the next opening after it. */
  sendAt: number;
  heldBy: HeldBy | null;
  /** The caps the accepting transaction applies; null when none do. */
  caps: PendingCaps | null;
}

/** What dispatch does with a message: send it now (null), later, or never. */
export type DispatchHold = { deferTo: number; heldBy: HeldBy } | { cancel: ErrorCode } | null;

/** A message as dispatch sees it. */
export interface DispatchCandidate {
  orgId: string;
  messageId: string;
  to: string;
  toIndex: string;
  program: Program;
  /** `consent_reply` messages (STOP/HELP/START answers) are never held. */
  kind: string;
  /** Whether the recipient gave prior express consent; unknown applies the exemption's caps. */
  hasExpressConsent?: boolean | undefined;
}

const SETTINGS_CACHE_MS = 5_000;
/**
 * How much later than logged a message may have gone, as dispatch assumes before it reads the
 * exact history: longer than any quiet-hours hold (at most 15 hours, Saturday 21:00 to Sunday
 * noon in Texas) and than retries take. A message that waited in the queue longer than this
 * (workers down for a day) is counted from its planned time.
 */
const DISPATCH_LAG_MS = 24 * 3600_000;
const INTERVAL_CACHE = 10_000;
const LOOKAHEAD_MS = 8 * 24 * 3600_000;
/** A cached set of openings is used while at least this much of it lies ahead. */
const KEEP_AHEAD_MS = 7 * 24 * 3600_000;

/** Quiet hours and caps for the send path, and the organisation settings that shape them. */
export class SendRules {
  readonly zones = new TimeZoneResolver();
  private readonly settingsCache = new Map<string, { at: number; org: OrgRules }>();
  /** The cache key of each location's zones and states (locations are cached and shared). */
  private readonly locKeys = new WeakMap<RecipientLocation, string>();
  private readonly intervals = new Map<string, { from: number; until: number; list: Interval[] }>();
  private readonly contexts = new Map<string, Context>();

  constructor(
    readonly config: SendRulesConfig,
    private readonly store: MessagingSettingsStore,
    private readonly history: SendHistory,
  ) {}

  /** The organisation's settings, with defaults for anything unset (cached briefly). */
  async settings(orgId: string): Promise<MessagingSettings> {
    return (await this.orgRules(orgId)).settings;
  }

  private cachedOrg(orgId: string): OrgRules | undefined {
    const hit = this.settingsCache.get(orgId);
    return hit && Date.now() - hit.at < SETTINGS_CACHE_MS ? hit.org : undefined;
  }

  /** The settings with what every message needs from them worked out once. */
  private async orgRules(orgId: string): Promise<OrgRules> {
    const hit = this.cachedOrg(orgId);
    if (hit) return hit;
    const settings = parseStoredSettings(await this.store.messagingSettings(orgId));
    const org: OrgRules = {
      settings,
      window: settings.quietHours.window ? parseWindow(settings.quietHours.window) : null,
    };
    this.settingsCache.set(orgId, { at: Date.now(), org });
    return org;
  }

  /** The installation's window, or the federal default when quiet hours are off. */
  private installationWindow(): DayWindow {
    return this.config.quietHours === 'off' ? DEFAULT_QUIET_WINDOW : this.config.quietHours;
  }

  /** Openings for a recipient from `at` on, computed once per zone set and rules and reused. */
  private openings(key: string, zones: readonly string[], rules: QuietHoursRules, at: number) {
    const hit = this.intervals.get(key);
    if (hit && at >= hit.from && at <= hit.until - KEEP_AHEAD_MS) return hit.list;
    const from = at - 3600_000;
    const until = at + LOOKAHEAD_MS;
    const list = openIntervals(zones, rules, from, until);
    if (this.intervals.size >= INTERVAL_CACHE) this.intervals.clear();
    this.intervals.set(key, { from, until, list });
    return list;
  }

  /**
   * What every message of an organisation to recipients in one place shares: the next opening
   * of their window, and the caps of each program. Built once and reused until the settings
   * are read again.
   */
  private context(orgId: string, org: OrgRules, loc: RecipientLocation): Context {
    let locKey = this.locKeys.get(loc);
    if (locKey === undefined) {
      locKey = `${loc.zones.join(',')}|${loc.states.join(',')}`;
      this.locKeys.set(loc, locKey);
    }
    const key = `${orgId}|${locKey}`;
    const hit = this.contexts.get(key);
    if (hit && hit.org === org) return hit;
    let opening = identity;
    if (this.config.quietHours !== 'off') {
      const rules: QuietHoursRules = {
        server: this.config.quietHours,
        org: org.window,
        states: loc.states,
      };
      const intervalKey = `${locKey}|${org.window ? `${org.window.start}-${org.window.end}` : '-'}`;
      opening = (t: number): number => {
        const found = openingIn(this.openings(intervalKey, loc.zones, rules, t), t);
        if (found.next !== null) return found.next;
        // No common window (zones far apart): the first zone decides, as checkQuietHours does.
        const first = openingIn(
          this.openings(`${intervalKey}|first`, loc.zones.slice(0, 1), rules, t),
          t,
        );
        return first.next ?? t + 24 * 3600_000;
      };
    }
    const ctx: Context = { org, loc, opening, caps: new Map() };
    if (this.contexts.size >= INTERVAL_CACHE) this.contexts.clear();
    this.contexts.set(key, ctx);
    return ctx;
  }

  /** Whether quiet hours hold this program of this organisation at all. */
  private quiet(ctx: Context, program: Program): boolean {
    return (
      ctx.opening !== identity && !ctx.org.settings.quietHours.exemptPrograms.includes(program)
    );
  }

  /** The caps a message of `program` is checked against (cached per context and program). */
  private pendingCaps(ctx: Context, program: Program): PendingCaps | null {
    let caps = ctx.caps.get(program);
    if (caps === undefined) {
      const policy = capPolicyFor(ctx.org.settings.caps, program, ctx.loc.states);
      caps = policy ? { policy, opening: this.quiet(ctx, program) ? ctx.opening : identity } : null;
      ctx.caps.set(program, caps);
    }
    return caps;
  }

  private async contextFor(orgId: string, recipient: RecipientLocationInput): Promise<Context> {
    const loc = this.zones.locateCached(recipient) ?? (await this.zones.locate(recipient));
    const org = this.cachedOrg(orgId) ?? (await this.orgRules(orgId));
    return this.context(orgId, org, loc);
  }

  /** The context when everything it needs is cached (no await: every message passes here). */
  private cachedContext(orgId: string, recipient: RecipientLocationInput): Context | undefined {
    const loc = this.zones.locateCached(recipient);
    const org = loc && this.cachedOrg(orgId);
    return org ? this.context(orgId, org, loc) : undefined;
  }

  /**
   * The next instant at or after `at` the recipient may be texted, or `at` itself when quiet
   * hours do not apply to this message.
   */
  async nextOpening(
    orgId: string,
    recipient: RecipientLocationInput,
    program: Program,
    at: number,
    exempt?: 'consent_reply' | 'verification_code',
  ): Promise<number> {
    const ctx = await this.contextFor(orgId, recipient);
    return exempt || !this.quiet(ctx, program) ? at : ctx.opening(at);
  }

  /**
   * At acceptance: when the message may go, and the caps its transaction must apply. A
   * message whose `sendAt` falls outside the window moves to the next opening; it is never
   * dropped. Pass `exempt` for a reply to STOP, HELP or START, or a portal verification code.
   */
  plan(m: {
    orgId: string;
    to: string;
    program: Program;
    sendAt: number;
    exempt?: 'consent_reply' | 'verification_code' | undefined;
    contact?: Omit<RecipientLocationInput, 'phone'> | undefined;
  }): Promise<AcceptPlan> {
    if (m.exempt || (this.config.quietHours === 'off' && !this.config.frequencyCaps)) {
      return Promise.resolve({ sendAt: m.sendAt, heldBy: null, caps: null });
    }
    const recipient = m.contact ? { ...m.contact, phone: m.to } : { phone: m.to };
    const ctx = this.cachedContext(m.orgId, recipient);
    if (ctx) return Promise.resolve(this.planIn(ctx, m));
    return this.contextFor(m.orgId, recipient).then((c) => this.planIn(c, m));
  }

  private planIn(ctx: Context, m: { program: Program; sendAt: number }): AcceptPlan {
    const at = this.quiet(ctx, m.program) ? ctx.opening(m.sendAt) : m.sendAt;
    return {
      sendAt: at,
      heldBy: at !== m.sendAt ? 'quiet_hours' : null,
      caps: this.config.frequencyCaps ? this.pendingCaps(ctx, m.program) : null,
    };
  }

  /**
   * Before a submission: may the message go now? Outside the window it waits for the next
   * opening; over a cap it waits (defer mode) or is canceled with `frequency_cap_exceeded`.
   */
  async checkAtDispatch(c: DispatchCandidate, now = Date.now()): Promise<DispatchHold> {
    // Replies to STOP/HELP/START and portal verification codes are never held.
    if (c.kind !== 'standard') return null;
    if (this.config.quietHours === 'off' && !this.config.frequencyCaps) return null;
    const ctx = await this.contextFor(c.orgId, { phone: c.to });
    const open = this.quiet(ctx, c.program) ? ctx.opening(now) : now;
    if (open !== now) return { deferTo: open, heldBy: 'quiet_hours' };
    if (!this.config.frequencyCaps) return null;
    const caps = this.pendingCaps(ctx, c.program);
    if (!caps) return null;
    const rules = rulesFor(caps.policy, c.hasExpressConsent);
    if (rules.length === 0) return null;
    const history = await this.history.capHistory(c.orgId, c.toIndex, c.program, c.messageId);
    // The log holds planned times, and a message may have gone later than planned (held by
    // quiet hours, retried, or waiting in a long queue): count each as late as DISPATCH_LAG_MS
    // after its time. When that fits, it fits; when not, ask the messages themselves.
    const late = history.logged.map((t) => (t <= now ? Math.min(t + DISPATCH_LAG_MS, now) : t));
    if (checkCaps(rules, late, now).ok) return null;
    const out = applyCaps(rules, await history.exact(), now, caps.policy.mode, caps.opening);
    switch (out.kind) {
      case 'ok':
        return null;
      case 'deferred':
        await this.history.relogCap(c.orgId, c.toIndex, c.program, c.messageId, out.at);
        return { deferTo: out.at, heldBy: 'frequency_cap' };
      case 'refused':
        return { cancel: 'frequency_cap_exceeded' };
    }
  }

  /** The settings as the API shows them: the organisation's own and what applies around them. */
  async view(orgId: string): Promise<MessagingSettingsView> {
    const s = await this.settings(orgId);
    const org = s.quietHours.window ? parseWindow(s.quietHours.window) : null;
    const installation = this.config.quietHours;
    return {
      quietHours: {
        enabled: installation !== 'off',
        installationWindow: installation === 'off' ? 'off' : formatWindow(installation),
        window: s.quietHours.window,
        effectiveWindow:
          installation === 'off'
            ? 'off'
            : formatWindow(org && windowWithin(org, installation) ? org : installation),
        exemptPrograms: s.quietHours.exemptPrograms,
        stateRules: STATE_QUIET_HOURS.map((r) => ({
          state: r.state,
          weekdays: formatWindow(r.days[1]),
          saturday: formatWindow(r.days[6]),
          sunday: formatWindow(r.days[7]),
          source: r.source,
        })),
      },
      caps: {
        enabled: this.config.frequencyCaps,
        mode: s.caps.mode,
        programs: s.caps.programs,
        stateMarketingCaps: STATE_MARKETING_CAPS.map((r) => ({
          state: r.state,
          max: r.max,
          windowHours: r.windowHours,
          source: r.source,
        })),
      },
    };
  }

  /** Replaces the organisation's settings (validated; audited by orgs as a settings change). */
  async setSettings(
    orgId: string,
    input: MessagingSettingsInput,
    actor: Actor,
  ): Promise<MessagingSettingsView> {
    const settings = this.validate(input);
    await this.store.setMessagingSettings(
      orgId,
      JSON.stringify(settings),
      auditDetails(settings),
      actor,
    );
    this.settingsCache.delete(orgId);
    return this.view(orgId);
  }

  /** Changes only the quiet-hours part (the CLI's `org set-quiet-hours`). */
  async setQuietHours(
    orgId: string,
    quietHours: QuietHoursSettings,
    actor: Actor,
  ): Promise<MessagingSettingsView> {
    const current = await this.settings(orgId);
    return this.setSettings(orgId, { ...current, quietHours }, actor);
  }

  private validate(input: MessagingSettingsInput): MessagingSettings {
    const q = input.quietHours ?? DEFAULT_MESSAGING_SETTINGS.quietHours;
    let window: string | null = null;
    if (q.window !== null && q.window !== undefined) {
      const w = parseWindow(q.window);
      if (!w) {
        throw new AppError(
          'validation_failed',
          'quietHours.window must be HH:MM-HH:MM, start before end.',
        );
      }
      const outer = this.installationWindow();
      if (!windowWithin(w, outer)) {
        throw new AppError(
          'validation_failed',
          `quietHours.window may only narrow the installation's window (${formatWindow(outer)}).`,
        );
      }
      window = formatWindow(w);
    }
    const exempt = [...new Set(q.exemptPrograms ?? [])];
    for (const p of exempt) {
      if (!(EXEMPTIBLE_PROGRAMS as readonly string[]).includes(p)) {
        throw new AppError(
          'validation_failed',
          `quietHours.exemptPrograms may name ${EXEMPTIBLE_PROGRAMS.join(', ')}; marketing is never exempt.`,
        );
      }
    }
    const c = input.caps ?? DEFAULT_CAP_SETTINGS;
    const mode = c.mode ?? 'refuse';
    if (!(CAP_MODES as readonly string[]).includes(mode)) {
      throw new AppError('validation_failed', `caps.mode must be ${CAP_MODES.join(' or ')}.`);
    }
    const programs = { ...DEFAULT_CAP_SETTINGS.programs };
    for (const p of PROGRAMS) {
      const given = c.programs?.[p];
      if (given === undefined) continue;
      if (given === null) {
        programs[p] = null;
        continue;
      }
      const cap: ProgramCap = {
        per24h: given.per24h ?? null,
        per7d: given.per7d ?? null,
        withoutExpressConsentOnly: given.withoutExpressConsentOnly ?? false,
        maxChars: given.maxChars ?? null,
        requireStopInstructions: given.requireStopInstructions ?? false,
      };
      const problem = validateProgramCap(cap);
      if (problem) throw new AppError('validation_failed', `caps.programs.${p}: ${problem}`);
      programs[p] = cap;
    }
    return {
      quietHours: { window, exemptPrograms: PROGRAMS.filter((p) => exempt.includes(p)) },
      caps: { mode, programs },
    };
  }
}

/** The settings as written by a caller: anything left out takes its default. */
export interface MessagingSettingsInput {
  quietHours?: { window?: string | null; exemptPrograms?: Program[] } | undefined;
  caps?:
    | {
        mode?: CapMode;
        programs?: Partial<Record<Program, Partial<ProgramCap> | null>>;
      }
    | undefined;
}

export interface MessagingSettingsView {
  quietHours: {
    enabled: boolean;
    installationWindow: string;
    window: string | null;
    effectiveWindow: string;
    exemptPrograms: Program[];
    stateRules: {
      state: string;
      weekdays: string;
      saturday: string;
      sunday: string;
      source: string;
    }[];
  };
  caps: {
    enabled: boolean;
    mode: CapMode;
    programs: Record<Program, ProgramCap | null>;
    stateMarketingCaps: { state: string; max: number; windowHours: number; source: string }[];
  };
}

function auditDetails(s: MessagingSettings): AuditDetails {
  return {
    setting: 'messaging',
    quietHoursWindow: s.quietHours.window ?? 'installation',
    quietHoursExempt: s.quietHours.exemptPrograms.join(','),
    capMode: s.caps.mode,
    caps: JSON.stringify(s.caps.programs),
  };
}

/** Stored settings, tolerant of older or partial documents: anything missing is the default. */
export function parseStoredSettings(json: string | null): MessagingSettings {
  if (!json) return DEFAULT_MESSAGING_SETTINGS;
  let raw: MessagingSettingsInput;
  try {
    raw = JSON.parse(json) as MessagingSettingsInput;
  } catch {
    return DEFAULT_MESSAGING_SETTINGS;
  }
  const window = raw.quietHours?.window ?? null;
  const programs = { ...DEFAULT_CAP_SETTINGS.programs };
  for (const p of PROGRAMS) {
    const v = raw.caps?.programs?.[p];
    if (v === null) programs[p] = null;
    else if (v) {
      programs[p] = {
        per24h: v.per24h ?? null,
        per7d: v.per7d ?? null,
        withoutExpressConsentOnly: v.withoutExpressConsentOnly ?? false,
        maxChars: v.maxChars ?? null,
        requireStopInstructions: v.requireStopInstructions ?? false,
      };
    }
  }
  return {
    quietHours: {
      window: window && parseWindow(window) ? window : null,
      exemptPrograms: (raw.quietHours?.exemptPrograms ?? []).filter((p) =>
        (EXEMPTIBLE_PROGRAMS as readonly string[]).includes(p),
      ),
    },
    caps: { mode: raw.caps?.mode === 'defer' ? 'defer' : 'refuse', programs },
  };
}

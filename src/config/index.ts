/**
 * @module config
 * The one place that reads environment variables. They are read once, validated with zod,
 * and handed to the parts that need them as a typed, frozen object. A bad value stops
 * start-up with a message naming the variable (12-factor configuration).
 */
import { z } from 'zod';
import path from 'node:path';
import { CarrierError } from '../carriers/types.js';
import { parseSmppUrl } from '../carriers/smpp/url.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const CARRIERS = ['simulator', 'smpp'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const ratio = z.coerce.number().min(0).max(1);

/** `HH:MM-HH:MM` as minutes after midnight (the same rule as consent/quiet-hours parseWindow). */
function parseQuietWindow(v: string): { start: number; end: number } | null {
  const m = /^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/.exec(v.trim());
  if (!m) return null;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  return start < end && end <= 24 * 60 ? { start, end } : null;
}

/** Each variable, its default, and what it accepts. README's configuration table mirrors it. */
/** HL7_MLLP_FACILITIES and `tidings hl7 listen --facilities`. */
export const facilitiesSchema = z
  .string()
  .regex(
    /^[^=,\s]+=org_[a-z0-9]{26}(,[^=,\s]+=org_[a-z0-9]{26})*$/,
    'must be FACILITY=org_…[,FACILITY=org_…]',
  );

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  TIDINGS_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave unset for SQLite)')
    .optional(),
  PUBLIC_URL: z.url().optional(),
  TIDINGS_MASTER_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  /** A key file: one base64 master key per line, newest first (see runtime/master-keys). */
  TIDINGS_MASTER_KEY_FILE: z.string().min(1).optional(),
  /** PEM certificate chain and private key: both set → HTTPS (TLS 1.2+). */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TIDINGS_CARRIER: z.enum(CARRIERS).default('simulator'),
  /** The SMPP bind for TIDINGS_CARRIER=smpp: smpp://SYSTEM_ID:PASSWORD@HOST:PORT (ssmpp:// TLS). */
  TIDINGS_SMPP_URL: z
    .string()
    .superRefine((v, ctx) => {
      try {
        parseSmppUrl(v);
      } catch (e) {
        // The code names the part that is wrong; the URL (with its password) is never quoted.
        const code = e instanceof CarrierError ? ` (${e.carrierCode})` : '';
        ctx.addIssue({
          code: 'custom',
          message: `must be smpp://SYSTEM_ID:PASSWORD@HOST:PORT (or ssmpp://)${code}`,
        });
      }
    })
    .optional(),
  /** Outstanding submit_sm allowed on that bind (default: the URL's `window`, else 10). */
  TIDINGS_SMPP_WINDOW: positiveInt.max(1000).optional(),
  TIDINGS_SIM_LOG: z.string().min(1).optional(),
  TIDINGS_SIM_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  TIDINGS_SIM_FAILURE_RATE: ratio.default(0),
  TIDINGS_SEND_REGIONS: z
    .string()
    .regex(/^[A-Z]{2}(,[A-Z]{2})*$/, 'must be comma-separated ISO country codes, e.g. US,CA')
    .default('US,CA'),
  TIDINGS_DEFAULT_MPS: positiveInt.max(10_000).default(50),
  TIDINGS_MAX_ATTEMPTS: positiveInt.max(100).default(8),
  TIDINGS_DISPATCH_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  TIDINGS_AUDIT_CHECKPOINT_EVENTS: positiveInt.max(1_000_000).default(1000),
  TIDINGS_AUDIT_CHECKPOINT_MINUTES: positiveInt.max(1440).default(10),
  TIDINGS_AUTH_RATE_LIMIT: positiveInt.max(10_000).default(20),
  /** Local hours texts may reach recipients; `off` disables quiet hours (development, tests). */
  TIDINGS_QUIET_HOURS: z
    .string()
    .refine(
      (v) => v === 'off' || parseQuietWindow(v) !== null,
      'must be HH:MM-HH:MM (start before end, at most 24:00) or off',
    )
    .default('08:00-21:00'),
  /** Frequency caps (docs/consent.md); `off` disables them (development, tests, benchmarks). */
  TIDINGS_FREQUENCY_CAPS: z.enum(['on', 'off']).default('on'),
  /** How long a secure-message link works, unless the sender asks for less (docs/portal.md). */
  TIDINGS_SECURE_LINK_TTL_HOURS: positiveInt.max(24 * 90).default(24 * 7),
  /** Requests per minute one client address may make to the patient portal (/s/…). */
  TIDINGS_PORTAL_RATE_LIMIT: positiveInt.max(10_000).default(60),
  /** Requests per minute one client address may make to the carrier webhooks (/carriers/…). */
  TIDINGS_CARRIER_WEBHOOK_RATE_LIMIT: positiveInt.max(1_000_000).default(6000),
  /** How often the worker's retention sweeper runs (docs/retention.md). */
  TIDINGS_RETENTION_SWEEP_MINUTES: positiveInt.max(7 * 24 * 60).default(60),
  /** How often the worker evaluates risk signals (docs/risk.md). */
  TIDINGS_RISK_CHECK_MINUTES: positiveInt.max(24 * 60).default(5),
  /** Encrypts backups instead of a key derived from the master key (docs/backup.md). */
  TIDINGS_BACKUP_PASSPHRASE: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Carrier webhooks: rebuild the URL the carrier signed from X-Forwarded-Proto and
   * X-Forwarded-Host. Only behind a proxy that sets them (and strips the client's own).
   */
  TIDINGS_TRUST_PROXY: z.enum(['on', 'off']).default('off'),
  /** HL7 v2 MLLP listener (issue 7): its port, and the organisation its feed belongs to. */
  HL7_MLLP_PORT: port.optional(),
  HL7_MLLP_ORG: z
    .string()
    .regex(/^org_[a-z0-9]{26}$/, 'must be an organisation id (org_…)')
    .optional(),
  /**
   * Organisation by sending facility (MSH-4.1) on that listener, for an interface engine
   * that forwards several clinics' feeds: `FACILITY_A=org_…,FACILITY_B=org_…`. A message
   * from a facility not listed goes to HL7_MLLP_ORG, or is rejected (AR) without it.
   */
  HL7_MLLP_FACILITIES: facilitiesSchema.optional(),
  /**
   * Polling an EHR's FHIR R4 server for Appointments (issue 7; worker role): its base URL,
   * the bearer token it wants, the organisation the appointments belong to, and how often.
   */
  FHIR_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  FHIR_BEARER_TOKEN: z.string().min(1).optional(),
  FHIR_POLL_ORG: z
    .string()
    .regex(/^org_[a-z0-9]{26}$/, 'must be an organisation id (org_…)')
    .optional(),
  FHIR_POLL_SECONDS: positiveInt.max(24 * 60 * 60).default(300),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export type LogLevel = (typeof LOG_LEVELS)[number];
export type CarrierKind = (typeof CARRIERS)[number];

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** `undefined` → SQLite file in the data directory. */
  readonly databaseUrl: string | undefined;
  readonly publicUrl: string;
  readonly masterKey: string | undefined;
  /** Absolute path of the master key file, when keys come from one the operator keeps. */
  readonly masterKeyFile: string | undefined;
  /** Serve HTTPS with these PEM files (absolute paths); `undefined` → plain HTTP. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly carrier: CarrierKind;
  /** The SMPP bind (TIDINGS_SMPP_URL, holds credentials: never log it), or undefined. */
  readonly smpp: { readonly url: string; readonly window: number | undefined } | undefined;
  readonly simulator: { logFile: string | undefined; latencyMs: number; failureRate: number };
  readonly sendRegions: readonly string[];
  readonly defaultMps: number;
  readonly maxAttempts: number;
  /** How long a worker's claim on a job lasts; a crashed worker's jobs are retried after it. */
  readonly dispatchLeaseMs: number;
  /** Sign each organisation's audit chain head every this many events … */
  readonly auditCheckpointEvents: number;
  /** … or when an unsigned event is this many minutes old. */
  readonly auditCheckpointMinutes: number;
  /** Requests per minute one client address may make to each sign-in endpoint. */
  readonly authRateLimit: number;
  /** Recipients' local window in minutes after midnight, or `off` (no quiet hours at all). */
  readonly quietHours: { readonly start: number; readonly end: number } | 'off';
  /** Whether frequency caps are enforced. */
  readonly frequencyCaps: boolean;
  /** Default lifetime of a secure-message link, in hours. */
  readonly secureLinkTtlHours: number;
  /** Requests per minute per client address to the patient portal. */
  readonly portalRateLimit: number;
  /** Requests per minute per client address to the carrier webhooks. */
  readonly carrierWebhookRateLimit: number;
  /** Minutes between retention sweeps (worker role). */
  readonly retentionSweepMinutes: number;
  /** Minutes between risk-signal evaluations (worker role). */
  readonly riskCheckMinutes: number;
  /** Backup passphrase; `undefined` → backups use a key derived from the master key. */
  readonly backupPassphrase: string | undefined;
  /** Whether carrier webhooks trust X-Forwarded-Proto/-Host (TIDINGS_TRUST_PROXY). */
  readonly trustProxy: boolean;
  /**
   * The HL7 v2 MLLP listener `serve` starts (HL7_MLLP_PORT), or undefined: the organisation
   * of each sending facility (HL7_MLLP_FACILITIES), and of every other (HL7_MLLP_ORG).
   */
  readonly hl7:
    | {
        readonly port: number;
        readonly orgId: string | undefined;
        readonly facilities: Readonly<Record<string, string>>;
      }
    | undefined;
  /** FHIR Appointment polling the worker runs (FHIR_BASE_URL, FHIR_POLL_ORG …), or undefined. */
  readonly fhirPoll:
    | {
        readonly baseUrl: string;
        readonly bearerToken: string | undefined;
        readonly orgId: string;
        readonly intervalMs: number;
      }
    | undefined;
  readonly logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** `FACILITY_A=org_…,FACILITY_B=org_…` (already checked by the schema) as a record. */
/** Sending facility → organisation: `FACILITY_A=org_…,FACILITY_B=org_…`. */
export function parseFacilities(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [facility, orgId] = pair.split('=') as [string, string];
    out[facility] = orgId;
  }
  return out;
}

/** Validates an environment (default: `process.env`) and returns the typed configuration. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  const c = parsed.data;
  const hl7Feeds = c.HL7_MLLP_ORG !== undefined || c.HL7_MLLP_FACILITIES !== undefined;
  if ((c.HL7_MLLP_PORT === undefined) === hl7Feeds) {
    throw new ConfigError([
      'HL7_MLLP_PORT: set it with HL7_MLLP_ORG or HL7_MLLP_FACILITIES (or both), or none of them',
    ]);
  }
  if ((c.FHIR_BASE_URL === undefined) !== (c.FHIR_POLL_ORG === undefined)) {
    throw new ConfigError(['FHIR_BASE_URL and FHIR_POLL_ORG: set both, or neither']);
  }
  if (c.FHIR_BEARER_TOKEN !== undefined && c.FHIR_BASE_URL === undefined) {
    throw new ConfigError(['FHIR_BEARER_TOKEN: only with FHIR_BASE_URL']);
  }
  if (c.TIDINGS_MASTER_KEY && c.TIDINGS_MASTER_KEY_FILE) {
    throw new ConfigError([
      'TIDINGS_MASTER_KEY_FILE: set either TIDINGS_MASTER_KEY or TIDINGS_MASTER_KEY_FILE, not both',
    ]);
  }
  if (c.NODE_ENV === 'production' && !c.TIDINGS_MASTER_KEY && !c.TIDINGS_MASTER_KEY_FILE) {
    throw new ConfigError([
      'TIDINGS_MASTER_KEY: required when NODE_ENV=production (or set TIDINGS_MASTER_KEY_FILE)',
    ]);
  }
  if (c.TIDINGS_CARRIER === 'smpp' && !c.TIDINGS_SMPP_URL) {
    throw new ConfigError(['TIDINGS_SMPP_URL: required when TIDINGS_CARRIER=smpp']);
  }
  if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
    throw new ConfigError([
      c.TLS_CERT_FILE
        ? 'TLS_KEY_FILE: required when TLS_CERT_FILE is set'
        : 'TLS_CERT_FILE: required when TLS_KEY_FILE is set',
    ]);
  }
  const tls =
    c.TLS_CERT_FILE && c.TLS_KEY_FILE
      ? Object.freeze({
          certFile: path.resolve(c.TLS_CERT_FILE),
          keyFile: path.resolve(c.TLS_KEY_FILE),
        })
      : undefined;
  const dataDir = path.resolve(c.TIDINGS_DATA_DIR);
  return Object.freeze({
    env: c.NODE_ENV,
    port: c.PORT,
    host: c.HOST,
    dataDir,
    databaseUrl: c.DATABASE_URL,
    publicUrl: (c.PUBLIC_URL ?? `${tls ? 'https' : 'http'}://${c.HOST}:${c.PORT}`).replace(
      /\/$/,
      '',
    ),
    masterKey: c.TIDINGS_MASTER_KEY,
    masterKeyFile: c.TIDINGS_MASTER_KEY_FILE ? path.resolve(c.TIDINGS_MASTER_KEY_FILE) : undefined,
    tls,
    carrier: c.TIDINGS_CARRIER,
    smpp: c.TIDINGS_SMPP_URL
      ? Object.freeze({ url: c.TIDINGS_SMPP_URL, window: c.TIDINGS_SMPP_WINDOW })
      : undefined,
    simulator: Object.freeze({
      logFile: c.TIDINGS_SIM_LOG ? path.resolve(c.TIDINGS_SIM_LOG) : undefined,
      latencyMs: c.TIDINGS_SIM_LATENCY_MS,
      failureRate: c.TIDINGS_SIM_FAILURE_RATE,
    }),
    sendRegions: Object.freeze(c.TIDINGS_SEND_REGIONS.split(',')),
    defaultMps: c.TIDINGS_DEFAULT_MPS,
    maxAttempts: c.TIDINGS_MAX_ATTEMPTS,
    dispatchLeaseMs: c.TIDINGS_DISPATCH_LEASE_MS,
    auditCheckpointEvents: c.TIDINGS_AUDIT_CHECKPOINT_EVENTS,
    auditCheckpointMinutes: c.TIDINGS_AUDIT_CHECKPOINT_MINUTES,
    authRateLimit: c.TIDINGS_AUTH_RATE_LIMIT,
    quietHours:
      c.TIDINGS_QUIET_HOURS === 'off'
        ? 'off'
        : Object.freeze(parseQuietWindow(c.TIDINGS_QUIET_HOURS)!),
    frequencyCaps: c.TIDINGS_FREQUENCY_CAPS === 'on',
    secureLinkTtlHours: c.TIDINGS_SECURE_LINK_TTL_HOURS,
    portalRateLimit: c.TIDINGS_PORTAL_RATE_LIMIT,
    carrierWebhookRateLimit: c.TIDINGS_CARRIER_WEBHOOK_RATE_LIMIT,
    retentionSweepMinutes: c.TIDINGS_RETENTION_SWEEP_MINUTES,
    riskCheckMinutes: c.TIDINGS_RISK_CHECK_MINUTES,
    backupPassphrase: c.TIDINGS_BACKUP_PASSPHRASE,
    trustProxy: c.TIDINGS_TRUST_PROXY === 'on',
    hl7:
      c.HL7_MLLP_PORT !== undefined
        ? Object.freeze({
            port: c.HL7_MLLP_PORT,
            orgId: c.HL7_MLLP_ORG,
            facilities: Object.freeze(parseFacilities(c.HL7_MLLP_FACILITIES ?? '')),
          })
        : undefined,
    fhirPoll:
      c.FHIR_BASE_URL !== undefined && c.FHIR_POLL_ORG !== undefined
        ? Object.freeze({
            baseUrl: c.FHIR_BASE_URL,
            bearerToken: c.FHIR_BEARER_TOKEN,
            orgId: c.FHIR_POLL_ORG,
            intervalMs: c.FHIR_POLL_SECONDS * 1000,
          })
        : undefined,
    logLevel: c.LOG_LEVEL,
  });
}

/**
 * @module store/schema
 * Row types of every table, for Kysely. Times are epoch milliseconds (integers on both
 * dialects). Columns ending in `_enc` hold envelope ciphertext (see crypto); columns ending
 * in `_index` hold keyed blind indexes. Each table is owned by one module, named here.
 */
import type { Generated } from 'kysely';

/** Owned by orgs. */
export interface OrganisationsTable {
  id: string;
  name: string;
  webhook_url: string | null;
  webhook_secret_enc: string | null;
  /** The secret a rotation replaced; it also signs until `webhook_prev_secret_until`. */
  webhook_prev_secret_enc: string | null;
  webhook_prev_secret_until: number | null;
  created_at: number;
  /** Automatic logoff after this many idle minutes. */
  session_idle_minutes: Generated<number>;
  /** Quiet hours and frequency caps (consent/send-rules MessagingSettings), JSON; null: defaults. */
  messaging_settings: string | null;
  /** The content guard's policy (content-guard GuardSettings), JSON; null: defaults. */
  guard_settings: string | null;
}

/** Owned by crypto (keyring persistence, via store/keyring-repo). */
export interface OrgKeysTable {
  org_id: string;
  key_id: string;
  purpose: 'data' | 'index';
  wrapped: string;
  master_key_id: string;
  created_at: number;
}

/** Owned by crypto (keyrings): data keys destroyed on purpose (crypto-shredding). */
export interface OrgKeyShredsTable {
  org_id: string;
  key_id: string;
  shredded_at: number;
}

/** Owned by crypto (keyrings): master keys retired by an operator. Installation-wide. */
export interface MasterKeyRetirementsTable {
  master_key_id: string;
  retired_at: number;
}

/** Owned by identity. */
export interface ApiKeysTable {
  org_id: string;
  id: string;
  name: string;
  hash: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  /** Comma-separated scopes (identity/access SCOPES). */
  scopes: string;
  expires_at: number | null;
  /** Actor that created the key, as `type:id`. */
  created_by: string | null;
}

/** Owned by identity (users). */
export interface UsersTable {
  org_id: string;
  id: string;
  /** Lower-cased; unique within the organisation. Workforce address, not patient data. */
  email: string;
  role: string;
  /** argon2id PHC string; null until the user has used the set-up link. */
  password_hash: string | null;
  setup_token_hash: string | null;
  setup_expires_at: number | null;
  totp_secret_enc: string | null;
  mfa_enrolled_at: number | null;
  /** Last TOTP time step accepted, so a code is never accepted twice. */
  totp_last_step: number | null;
  failed_logins: Generated<number>;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
}

/** Owned by identity (users). */
export interface RecoveryCodesTable {
  org_id: string;
  user_id: string;
  code_hash: string;
  used_at: number | null;
}

/** Owned by identity (sessions). */
export interface SessionsTable {
  org_id: string;
  id: string;
  user_id: string;
  token_hash: string;
  csrf_hash: string;
  created_at: number;
  last_seen_at: number;
  idle_timeout_ms: number;
  expires_at: number;
  mfa_verified_at: number | null;
  revoked_at: number | null;
  ip: string | null;
}

/** Owned by identity (break-glass). */
export interface BreakGlassGrantsTable {
  org_id: string;
  id: string;
  user_id: string;
  reason_enc: string;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
}

/** Owned by orgs. */
export interface SendersTable {
  org_id: string;
  id: string;
  number: string;
  carrier: string;
  mps: number;
  is_default: number;
  created_at: number;
  /** Carrier settings and credentials, JSON encrypted with the org's data key (orgs). */
  config_enc: string | null;
  /** At most this many segments a day; null: no cap. */
  daily_cap: number | null;
  /** IANA zone whose midnight starts the cap's day; null: UTC. */
  cap_time_zone: string | null;
  /** 1: the organisation's failover sender (dispatch/circuit-breaker). */
  is_secondary: number | null;
  /** 1: in the organisation's sender pool (sticky sender per recipient, 0024). */
  in_pool: number;
}

/** Owned by dispatch (segment-limit): segments each sender used per period, for all workers. */
export interface SenderUsageTable {
  org_id: string;
  sender_id: string;
  /** `s:<epoch second>` or `d:<YYYY-MM-DD>` in the sender's cap time zone. */
  period: string;
  used: number;
  expires_at: number;
}

/** Owned by messaging. */
export interface MessagesTable {
  org_id: string;
  id: string;
  status: string;
  program: string;
  sender_id: string;
  from_number: string;
  to_enc: string;
  to_index: string;
  body_enc: string;
  segments: number;
  encoding: string;
  send_at: number;
  attempts: number;
  carrier_message_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  idempotency_key: string | null;
  /** messaging MESSAGE_KINDS. */
  kind: string;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
  delivered_at: number | null;
  /** When quiet hours or a frequency cap moved the message later: the time it may go. */
  not_before: number | null;
  /** consent/send-rules HeldBy: what moved it (`quiet_hours`, `frequency_cap`). */
  held_by: string | null;
}

/** Owned by dispatch: the durable queue. Carries ids, never content. */
export interface DispatchJobsTable {
  org_id: string;
  message_id: string;
  due_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
}

/** Owned by messaging. */
export interface IdempotencyKeysTable {
  org_id: string;
  key: string;
  request_hash: string;
  message_id: string;
  created_at: number;
}

/** Owned by messaging. */
export interface InboundMessagesTable {
  org_id: string;
  id: string;
  sender_id: string;
  to_number: string;
  from_enc: string;
  from_index: string;
  body_enc: string;
  /** Unique per (org, sender) when set: a redelivered webhook is not stored twice. */
  carrier_message_id: string | null;
  received_at: number;
}

/** Owned by audit. */
export interface AuditEventsTable {
  org_id: string;
  seq: number;
  at: number;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  details: string;
  prev_hash: string;
  hash: string;
  /** Blind index of the patient's number the event concerns (accounting of disclosures). */
  subject_index: string | null;
}

/** Owned by audit: the head of each organisation's chain, locked while appending. */
export interface AuditHeadsTable {
  org_id: string;
  seq: number;
  hash: string;
}

/** Owned by audit: per-organisation Ed25519 keys that sign checkpoints. */
export interface AuditSigningKeysTable {
  org_id: string;
  key_id: string;
  algorithm: string;
  /** SubjectPublicKeyInfo, PEM. */
  public_key: string;
  /** PKCS#8 DER wrapped by the master key (crypto.wrapKey). */
  private_key_wrapped: string;
  master_key_id: string;
  created_at: number;
  retired_at: number | null;
}

/** Owned by audit: signed heads of each organisation's chain. */
export interface AuditCheckpointsTable {
  org_id: string;
  seq: number;
  at: number;
  head_hash: string;
  key_id: string;
  signature: string;
}

/** Owned by webhooks: the outbox of status and inbound events to deliver. */
export interface WebhookDeliveriesTable {
  org_id: string;
  id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface Database {
  organisations: OrganisationsTable;
  org_keys: OrgKeysTable;
  org_key_shreds: OrgKeyShredsTable;
  master_key_retirements: MasterKeyRetirementsTable;
  api_keys: ApiKeysTable;
  senders: SendersTable;
  sender_usage: SenderUsageTable;
  messages: MessagesTable;
  dispatch_jobs: DispatchJobsTable;
  idempotency_keys: IdempotencyKeysTable;
  inbound_messages: InboundMessagesTable;
  audit_events: AuditEventsTable;
  audit_heads: AuditHeadsTable;
  audit_signing_keys: AuditSigningKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  users: UsersTable;
  recovery_codes: RecoveryCodesTable;
  sessions: SessionsTable;
  break_glass_grants: BreakGlassGrantsTable;
  consent_events: ConsentEventsTable;
  consent_state: ConsentStateTable;
  consent_settings: ConsentSettingsTable;
  send_log: SendLogTable;
  secure_messages: SecureMessagesTable;
  secure_message_codes: SecureMessageCodesTable;
  secure_message_sessions: SecureMessageSessionsTable;
  secure_message_replies: SecureMessageRepliesTable;
  templates: TemplatesTable;
  reminder_contacts: ReminderContactsTable;
  appointments: AppointmentsTable;
  reminders: RemindersTable;
  reminder_settings: ReminderSettingsTable;
  appointment_tasks: AppointmentTasksTable;
  hl7_messages: Hl7MessagesTable;
  campaigns: CampaignsTable;
  fhir_poll_cursors: FhirPollCursorsTable;
  campaign_recipients: CampaignRecipientsTable;
  retention_policies: RetentionPoliciesTable;
  legal_holds: LegalHoldsTable;
  retention_runs: RetentionRunsTable;
  risk_alerts: RiskAlertsTable;
  paused_senders: PausedSendersTable;
  backup_records: BackupRecordsTable;
  texting_policies: TextingPoliciesTable;
  policy_acks: PolicyAcksTable;
  carrier_deletions: CarrierDeletionsTable;
  conversations: ConversationsTable;
  conversation_backfills: ConversationBackfillsTable;
}

/** Owned by identity (policy-acks): the organisation's texting policy, one row, versioned. */
export interface TextingPoliciesTable {
  org_id: string;
  version: number;
  /** The policy text (organisational, never PHI). */
  body: string;
  updated_by: string;
  updated_at: number;
}

/** Owned by identity (policy-acks): each acknowledgement a user gave, by policy version. */
export interface PolicyAcksTable {
  org_id: string;
  id: string;
  user_id: string;
  version: number;
  acknowledged_at: number;
}

/**
 * Owned by retention: a carrier's copy of a message whose body the sweeper destroyed, and
 * whether the carrier was asked to delete it (`pending`, `deleted`, `unsupported`, `failed`).
 */
export interface CarrierDeletionsTable {
  org_id: string;
  /** `out` (messages) or `in` (inbound_messages). */
  kind: string;
  message_id: string;
  sender_id: string;
  carrier_message_id: string;
  status: string;
  attempts: number;
  updated_at: number;
}

/**
 * Owned by messaging (send-log): per organisation, recipient and program, the recent messages
 * a frequency cap counts (message ids with their send times, encoded by messaging/send-log).
 */
export interface SendLogTable {
  org_id: string;
  /** The first 16 hex digits of the recipient's blind index. */
  to_index: string;
  program: string;
  entries: string;
  updated_at: number;
}

/** Owned by consent (the ledger): append-only. */
export interface ConsentEventsTable {
  org_id: string;
  id: string;
  phone_index: string;
  phone_enc: string;
  /** A program, or `all`. */
  program: string;
  kind: string;
  source: string;
  evidence_enc: string | null;
  actor_type: string;
  actor_id: string;
  /** When the patient gave or withdrew consent (an import may name a past time). */
  occurred_at: number;
  recorded_at: number;
}

/** Owned by consent: the state derived from the ledger, kept current in the same transaction. */
export interface ConsentStateTable {
  org_id: string;
  phone_index: string;
  program: string;
  status: string;
  last_event_id: string;
  updated_at: number;
}

/** Owned by consent: per-organisation policy and reply texts, as JSON. */
export interface ConsentSettingsTable {
  org_id: string;
  settings: string;
  updated_at: number;
}

/**
 * Owned by portal: a message kept behind the secure portal. The link token is stored only as
 * its SHA-256 (`token_hash`); the body, recipient and date of birth are encrypted.
 */
export interface SecureMessagesTable {
  org_id: string;
  id: string;
  /** pending (notice not yet accepted), active, read, locked, revoked, canceled. */
  status: string;
  program: string;
  to_enc: string;
  to_index: string;
  body_enc: string;
  token_hash: string;
  /** `dob` or `code`. */
  verify_method: string;
  dob_enc: string | null;
  failed_attempts: Generated<number>;
  /** 1 once too many verifications failed. */
  locked: Generated<number>;
  locked_at: number | null;
  expires_at: number;
  expire_after_view: Generated<number>;
  first_viewed_at: number | null;
  revoked_at: number | null;
  /** The neutral notice SMS (messaging) that carries the link. */
  notice_message_id: string | null;
  created_by_type: string;
  created_by_id: string;
  created_at: number;
  updated_at: number;
}

/** Owned by portal: one-time codes texted to the patient, stored as keyed HMACs. */
export interface SecureMessageCodesTable {
  org_id: string;
  id: string;
  secure_message_id: string;
  code_hash: string;
  attempts: Generated<number>;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/** Owned by portal: a patient's verified session on one link (tokens stored as SHA-256). */
export interface SecureMessageSessionsTable {
  org_id: string;
  id: string;
  secure_message_id: string;
  token_hash: string;
  csrf_hash: string;
  expires_at: number;
  created_at: number;
}

/** Owned by portal: the patient's replies, encrypted. */
export interface SecureMessageRepliesTable {
  org_id: string;
  id: string;
  secure_message_id: string;
  body_enc: string;
  created_at: number;
}

/**
 * Owned by templates: an organisation's message templates with typed `{{slot}}` placeholders.
 * The body is the organisation's wording, scanned by the content guard when saved (no PHI).
 */
export interface TemplatesTable {
  org_id: string;
  id: string;
  /** Unique within the organisation. */
  name: string;
  body: string;
  /** messaging PROGRAMS: the program a send from this template uses unless told otherwise. */
  program: string;
  /** Actors as `type:id`. */
  created_by: string;
  created_at: number;
  updated_by: string;
  updated_at: number;
}

/** Owned by retention: the organisation's retention periods (retention/policy), JSON. */
export interface RetentionPoliciesTable {
  org_id: string;
  settings: string;
  updated_at: number;
}

/** Owned by retention: a legal hold suspends destruction (patient: by blind index). */
export interface LegalHoldsTable {
  org_id: string;
  id: string;
  /** `patient` or `organisation`. */
  scope: string;
  phone_index: string | null;
  /** The matter or reference, encrypted (it may name a person). */
  reason_enc: string;
  /** Actor as `type:id`. */
  placed_by: string;
  placed_at: number;
  lifted_by: string | null;
  lifted_at: number | null;
}

/** Owned by retention: one sweep of one organisation, with counts (never contents). */
export interface RetentionRunsTable {
  org_id: string;
  id: string;
  started_at: number;
  finished_at: number | null;
  counts: string;
}

/** Owned by risk: an alert raised by a signal crossing its threshold. */
export interface RiskAlertsTable {
  org_id: string;
  id: string;
  signal: string;
  /** `info`, `warning` or `critical` (critical pauses). */
  severity: string;
  /** `organisation`, `sender`, `program` or `campaign`. */
  scope_type: string;
  scope_id: string;
  explanation: string;
  /** The figures behind it, JSON (counts and rates; never PHI). */
  figures: string;
  /** `open`, `resolved`, or `superseded` (closed by a more severe alert on the same signal and scope). */
  status: string;
  /** JSON array of sender ids this alert paused. */
  paused_sender_ids: string;
  /** JSON array of the campaigns a critical alert paused (0021). */
  paused_campaign_ids: string;
  created_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
}

/** Owned by risk: senders dispatch must not use until an admin resumes them. */
export interface PausedSendersTable {
  org_id: string;
  sender_id: string;
  alert_id: string;
  paused_at: number;
}

/** Owned by store/backup: installation-wide record of backups written and verified. */
export interface BackupRecordsTable {
  id: string;
  /** `created` or `verified`. */
  kind: string;
  sha256: string;
  at: number;
}

/** Owned by reminders: patients as scheduling feeds describe them (MRN only as a blind index). */
export interface ReminderContactsTable {
  org_id: string;
  id: string;
  name_enc: string | null;
  phone_enc: string | null;
  phone_index: string | null;
  dob_enc: string | null;
  mrn_index: string | null;
  created_at: number;
  updated_at: number;
}

/** Owned by reminders. `external_id` is the feed's key (HL7 filler/placer id, FHIR id). */
export interface AppointmentsTable {
  org_id: string;
  id: string;
  external_id: string;
  source: string;
  placer_id: string | null;
  filler_id: string | null;
  fhir_id: string | null;
  contact_id: string;
  start_at: number;
  duration_minutes: number | null;
  location: string | null;
  provider_enc: string | null;
  appointment_type: string;
  status: string;
  booked_at: number;
  created_at: number;
  updated_at: number;
}

/** Owned by reminders: one planned reminder text of an appointment (its message, once queued). */
export interface RemindersTable {
  org_id: string;
  id: string;
  appointment_id: string;
  offset_minutes: number;
  send_at: number;
  plan_hash: string;
  message_id: string | null;
  status: string;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

/** Owned by reminders: schedules, reply words and time zone per organisation (JSON). */
export interface ReminderSettingsTable {
  org_id: string;
  settings: string;
  updated_at: number;
}

/** Owned by reminders: work for staff (a patient asked to reschedule). */
export interface AppointmentTasksTable {
  org_id: string;
  id: string;
  appointment_id: string;
  kind: string;
  status: string;
  inbound_id: string | null;
  created_at: number;
}

/** Owned by integrations/hl7v2: control ids seen, so a resent message is acknowledged once. */
export interface Hl7MessagesTable {
  org_id: string;
  control_id: string;
  message_type: string;
  ack_code: string;
  received_at: number;
}

/** Owned by campaigns. */
/** Owned by integrations/fhir (poll-appointments): where FHIR polling stopped. */
export interface FhirPollCursorsTable {
  org_id: string;
  /** The server's base URL (normalised, with a trailing slash). */
  base_url: string;
  /** The newest `meta.lastUpdated` seen, as the server wrote it. */
  last_updated: string;
  updated_at: number;
}

export interface CampaignsTable {
  org_id: string;
  id: string;
  name: string;
  template: string;
  /** The saved filter the list came from (JSON), or null for an uploaded CSV. */
  filter: string | null;
  status: string;
  total: number;
  created_by: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** Owned by campaigns: one recipient of a campaign (number and variables encrypted). */
export interface CampaignRecipientsTable {
  org_id: string;
  campaign_id: string;
  seq: number;
  phone_enc: string;
  variables_enc: string;
  status: string;
  message_id: string | null;
  error_code: string | null;
}

/**
 * Owned by conversations: the staff inbox's state per patient number (the messages themselves
 * stay in messaging and portal): an opaque id to address it by, who it is assigned to, and
 * when it was last read (inbound texts and portal replies after that are unread).
 */
export interface ConversationsTable {
  org_id: string;
  id: string;
  /** The number's blind index: one conversation per number. */
  phone_index: string;
  phone_enc: string;
  /** A user of the organisation, or null. */
  assignee_id: string | null;
  last_read_at: number;
  created_at: number;
  updated_at: number;
  /** The newest text either way, secure message or portal reply (0: none yet). */
  last_activity_at: Generated<number>;
  /** The newest inbound text or portal reply. */
  last_inbound_at: number | null;
}

/** Owned by conversations: organisations whose history before 0027 is in their rows. */
export interface ConversationBackfillsTable {
  org_id: string;
  done_at: number;
}

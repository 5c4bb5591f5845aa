/**
 * @module errors
 * The one catalogue of coded errors. Every error a caller can see has a stable snake_case
 * code, an HTTP status and a sentence without PHI. `docs/errors.md` documents each code and a
 * test keeps the two in step. Codes are never reused for a different meaning.
 */

export const ERRORS = {
  validation_failed: { status: 400, message: 'The request is not valid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_phone_number: { status: 422, message: 'The recipient is not a valid phone number.' },
  unsupported_region: {
    status: 422,
    message: 'The recipient is in a region this installation does not send to.',
  },
  not_mobile_number: { status: 422, message: 'The recipient cannot receive text messages.' },
  body_too_long: { status: 422, message: 'The body is longer than 10 segments.' },
  unknown_sender: { status: 422, message: 'The sender is not configured for this organisation.' },
  recipient_opted_out: {
    status: 422,
    message: 'The recipient has opted out of texts from this organisation (for this program).',
  },
  consent_required: {
    status: 422,
    message: 'This program needs the recipient’s recorded opt-in (confirmed, if double opt-in).',
  },
  frequency_cap_exceeded: {
    status: 422,
    message:
      'The recipient has had as many texts of this program as the frequency cap allows; try again later.',
  },
  exemption_conditions_unmet: {
    status: 422,
    message:
      'Without the recipient’s prior express consent a care text must be 160 characters or fewer and say to reply STOP to opt out.',
  },
  content_requires_secure: {
    status: 422,
    message: 'The text discloses health information: send it as a secure message.',
  },
  guard_override_not_allowed: {
    status: 403,
    message: 'The organisation does not allow sending held text as plain SMS.',
  },
  no_default_sender: { status: 422, message: 'The organisation has no default sender.' },
  unauthenticated: { status: 401, message: 'A valid API key or session is required.' },
  invalid_credentials: { status: 401, message: 'The e-mail address or password is wrong.' },
  invalid_mfa_code: { status: 401, message: 'The code is wrong or has expired.' },
  invalid_setup_token: { status: 401, message: 'The set-up link is not valid or has expired.' },
  forbidden: { status: 403, message: 'This credential may not do that.' },
  mfa_required: {
    status: 403,
    message: 'Verify a second factor (enrol one first if you have none) to continue.',
  },
  csrf_failed: { status: 403, message: 'The x-csrf-token header is missing or wrong.' },
  weak_password: {
    status: 422,
    message: 'The password must have at least 12 characters and not be a common password.',
  },
  mfa_already_enrolled: { status: 409, message: 'A second factor is already enrolled.' },
  mfa_not_started: { status: 409, message: 'Start enrolment before confirming it.' },
  email_taken: { status: 409, message: 'A user with that e-mail address already exists.' },
  user_not_found: { status: 404, message: 'No such user.' },
  org_required: {
    status: 400,
    message: 'That e-mail address belongs to more than one organisation: name the organisation.',
  },
  account_locked: {
    status: 429,
    message: 'Too many failed sign-ins; try again later.',
  },
  not_found: { status: 404, message: 'No such resource.' },
  message_not_found: { status: 404, message: 'No such message.' },
  secure_message_not_found: { status: 404, message: 'No such secure message.' },
  secure_message_closed: {
    status: 409,
    message: 'The secure message is already revoked, expired or locked.',
  },
  date_of_birth_required: {
    status: 400,
    message: 'Verification by date of birth needs the recipient’s date of birth (YYYY-MM-DD).',
  },
  route_not_found: { status: 404, message: 'No such endpoint.' },
  method_not_allowed: { status: 405, message: 'That method is not allowed here.' },
  idempotency_key_reused: {
    status: 409,
    message: 'The Idempotency-Key was already used with a different request.',
  },
  message_not_cancelable: {
    status: 409,
    message: 'The message can no longer be canceled.',
  },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send the request body as application/json.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  data_key_destroyed: {
    status: 410,
    message:
      'The data was encrypted under a key that has been destroyed, so it can no longer be read.',
  },
  data_key_active: {
    status: 409,
    message:
      'That data key is still in use: rotate the data key and let the new one take over first.',
  },
  master_key_in_use: {
    status: 409,
    message: 'The master key still wraps organisation keys: run tidings keys rotate first.',
  },
  master_key_active: { status: 409, message: 'The newest master key cannot be retired.' },
  master_key_missing: {
    status: 500,
    message: 'A master key that wraps these keys is not configured on this server.',
  },
  master_key_retired: {
    status: 500,
    message: 'The newest configured master key has been retired: configure a newer one.',
  },
  invalid_public_key: {
    status: 400,
    message: 'The public key is not a PEM-encoded EdDSA public key.',
  },
  audit_file_unreadable: {
    status: 400,
    message: 'The file cannot be read as a Tidings audit export.',
  },
  guard_text_invalid: {
    status: 400,
    message: 'The text to check must be a non-empty string.',
  },
  guard_text_too_long: {
    status: 400,
    message: 'The text to check is longer than the content guard accepts.',
  },
  audit_chain_broken: {
    status: 409,
    message: 'The audit chain fails verification; run tidings audit verify.',
  },
  // Templates with typed slots (templates/).
  template_not_found: { status: 404, message: 'No such template.' },
  template_name_taken: {
    status: 409,
    message: 'The organisation already has a template with that name.',
  },
  template_syntax_invalid: {
    status: 422,
    message: 'The template has a malformed placeholder; write slots as {{slotName}}.',
  },
  template_unknown_slot: {
    status: 422,
    message: 'The template uses a slot that is not a slot type.',
  },
  template_contains_phi: {
    status: 422,
    message:
      'The template would reveal health information in a text; send such content as a secure message.',
  },
  template_too_long: {
    status: 422,
    message: 'The template, with its slots at their longest, needs more than 10 segments.',
  },
  template_variable_missing: { status: 400, message: 'A variable the template needs is missing.' },
  template_variable_unexpected: {
    status: 400,
    message: 'A variable was given that the template does not use.',
  },
  template_variable_invalid: {
    status: 400,
    message: 'A variable does not have the form its slot type requires.',
  },
  template_variable_contains_phi: {
    status: 422,
    message: 'A variable would reveal health information in a text.',
  },
  appointment_not_found: { status: 404, message: 'No such appointment.' },
  task_not_found: { status: 404, message: 'No such staff task.' },
  campaign_not_found: { status: 404, message: 'No such campaign.' },
  campaign_state_conflict: {
    status: 409,
    message: 'The campaign cannot do that in its current state.',
  },
  // Retention, legal holds, risk alerts, backups (issue 9).
  legal_hold_not_found: { status: 404, message: 'No such active legal hold.' },
  risk_alert_not_found: { status: 404, message: 'No such risk alert.' },
  // Texting-policy acknowledgement (issue 9, workforce safeguard).
  policy_not_set: { status: 404, message: 'The organisation has not set a texting policy yet.' },
  policy_version_mismatch: {
    status: 409,
    message: 'The texting policy changed since it was read; read it again and acknowledge that.',
  },
  // Webhook secret rotation (issue 8, Settings).
  webhook_not_set: {
    status: 409,
    message: 'The organisation has no webhook: set its URL first.',
  },
  backup_invalid: {
    status: 400,
    message: 'The file is not a Tidings backup, is damaged, or the key does not open it.',
  },
  restore_target_not_empty: {
    status: 409,
    message: 'Restore only into an empty data directory or database.',
  },
  backup_key_missing: {
    status: 400,
    message: 'Set TIDINGS_BACKUP_PASSPHRASE or a master key to encrypt and open backups.',
  },
  sender_number_taken: {
    status: 409,
    message: 'That number is already a sender (of this or another organisation).',
  },
  sender_is_default: {
    status: 409,
    message: 'This is the default sender: make another sender the default first.',
  },
  sender_in_use: {
    status: 409,
    message: 'Texts from this sender are waiting to be sent; remove it once they have gone.',
  },
  invalid_carrier_settings: { status: 400, message: 'The carrier settings are not valid.' },
  carrier_signature_invalid: {
    status: 403,
    message: 'The webhook is not signed by the carrier configured for this sender.',
  },
  carrier_event_not_recorded: {
    status: 503,
    message: 'The carrier event was not recorded; deliver it again later.',
  },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  unavailable: { status: 503, message: 'The service is not ready.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error a caller may see: a code from the catalogue and a message free of PHI. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

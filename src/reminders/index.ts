/**
 * @module reminders
 * Appointments from the scheduling feeds and their reminder texts, and the replies that act
 * on them (issue 7). The planning rules (plan-reminders) and reply words (reply-words) are
 * pure; the service (service.ts) owns the tables.
 */
export {
  APPOINTMENT_STATUSES,
  DEFAULT_REMINDER_SETTINGS,
  parseReminderSettings,
  replyInstruction,
  Reminders,
  type AppointmentFilter,
  type AppointmentInput,
  type AppointmentStatus,
  type AppointmentView,
  type PatientInput,
  type Preview,
  type ReminderDeps,
  type ReminderSettings,
  type ReminderStatus,
  type ReminderView,
  type TaskView,
} from './service.js';
export { DEFAULT_OFFSETS_MINUTES, planReminders } from './plan-reminders.js';
export { DEFAULT_REPLY_WORDS, replyAction } from './reply-words.js';
export {
  CONTACT_FIELDS,
  PatientContacts,
  REVEAL_PURPOSES,
  type ContactDetails,
  type ContactField,
  type ContactSummary,
  type RevealedContact,
  type RevealPurpose,
} from './patient-contacts.js';

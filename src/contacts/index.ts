/**
 * @module contacts
 * Patients and staff recipients. For now: phone number normalisation.
 */
export {
  formatDisplayPhone,
  normaliseLookupPhone,
  normalisePhone,
  normaliseReportedPhone,
  type PhonePolicy,
} from './phone.js';

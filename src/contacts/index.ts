/**
 * @module contacts
 * Patients and staff recipients: phone number normalisation, and how a patient's details are
 * masked until revealed.
 */
export {
  formatDisplayPhone,
  normaliseLookupPhone,
  normalisePhone,
  normaliseReportedPhone,
  type PhonePolicy,
} from './phone.js';
export { foldName, maskDateOfBirth, maskName, maskPhone, nameMatches } from './mask.js';

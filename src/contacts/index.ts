/**
 * @module contacts
 * Patients and staff recipients. For now: phone number normalisation.
 */
export { normalisePhone, normaliseReportedPhone, type PhonePolicy } from './phone.js';

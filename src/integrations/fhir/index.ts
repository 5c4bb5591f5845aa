/**
 * @module integrations/fhir
 * FHIR R4: Appointments (and the Patients they refer to) in, reminder texts out as
 * Communications. See docs/integrations.md.
 */
export { fhirPlugin } from './plugin.js';
export { fhirRoutes, toFhirAppointment, type FhirRoute } from './routes.js';
export { appointmentInput, patientInput, operationOutcome, FhirProblem } from './map-resources.js';
export { FhirPoller, FhirPollError, type FhirPollOptions } from './poll-appointments.js';

/**
 * @module identity
 * Who is calling: API keys now; users, roles, MFA and sessions later.
 */
export { ApiKeys, type ApiKeyInfo, type ApiKeyPrincipal } from './api-keys.js';

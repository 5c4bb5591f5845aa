/**
 * @module identity
 * Who is calling and what they may do: API keys with scopes, people with roles, second
 * factors, sessions and emergency access.
 */
export { ApiKeys, parseScopes, type ApiKeyInfo, type NewApiKey } from './api-keys.js';
export * from './access.js';
export { Users, type UserView } from './users.js';
export { Sessions, type SessionInfo } from './sessions.js';
export { BreakGlass, type BreakGlassGrant, type SecureContentAccess } from './break-glass.js';
export {
  PolicyAcks,
  POLICY_ACK_VALID_MS,
  MAX_POLICY_LENGTH,
  type PolicyAckStatus,
  type TextingPolicyView,
} from './policy-acks.js';

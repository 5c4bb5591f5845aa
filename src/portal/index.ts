/**
 * @module portal
 * Secure message delivery (DESIGN.md, "SMS is a trigger, never a container"): content that
 * may not travel as SMS is stored encrypted behind a link; the patient gets a neutral notice
 * and reads the content in the portal after verifying their date of birth or a texted code.
 *
 * The send pipeline diverts a guarded message with `SecureMessages.prepareSecureMessage`
 * (outside its transaction) and `recordSecureMessageInTx` (inside the transaction that stores
 * the notice). The API's `POST /v1/secure-messages` uses `createSecureMessage`. The portal's
 * HTML lives in `pages.ts`; its HTTP routes in `http/portal`.
 */
export {
  SecureMessages,
  CODE_MAX_ATTEMPTS,
  CODE_TTL_MS,
  MAX_BODY_CHARS,
  MAX_EXPIRES_HOURS,
  MAX_FAILED_VERIFICATIONS,
  MAX_REPLY_CHARS,
  SECURE_STATUSES,
  SESSION_TTL_MS,
  VERIFY_METHODS,
  type PortalOptions,
  type PortalState,
  type PreparedSecureMessage,
  type ReplyResult,
  type ReplyView,
  type SecureMessageInput,
  type SecureMessageView,
  type SecureStatus,
  type SendCodeResult,
  type VerifyMethod,
  type VerifyResult,
} from './secure-messages.js';
export {
  messagePage,
  problemPage,
  unavailablePage,
  verifyPage,
  PORTAL_CSP,
  type MessagePage,
  type VerifyPage,
} from './pages.js';
export { isLinkToken } from './tokens.js';
export { expireSecureContentBefore, type ExpireContentRequest } from './expire-content.js';
export { secureDailyCounts, type SecureDailyCount } from './daily-counts.js';
export {
  noticeIdsAmong,
  replyCountSince,
  secureHistoryPage,
  securePage,
  type SecurePageRequest,
  type SecureReplyItem,
  type SecureThreadItem,
} from './conversation-items.js';

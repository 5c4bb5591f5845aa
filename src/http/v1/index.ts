/**
 * @module http/v1
 * Every route of the versioned API, from each area's file. The authorisation-matrix test
 * walks this list.
 */
import type { RouteDef } from './route-def.js';
import { senderRoutes } from './senders.js';
import { messageRoutes } from './messages.js';
import { authRoutes } from './auth.js';
import { auditRoutes } from './audit.js';
import { consentRoutes } from './consent.js';
import { messagingSettingsRoutes } from './settings-messaging.js';
import { secureMessageRoutes } from './secure-messages.js';
import { templateRoutes } from './templates.js';
import { guardRoutes } from './guard.js';
import { guardSettingsRoutes } from './settings-guard.js';
import { retentionRoutes } from './retention.js';
import { riskRoutes } from './risk.js';
import { complianceRoutes } from './compliance.js';
import { policyRoutes } from './policy.js';
import { appointmentRoutes } from './appointments.js';
import { campaignRoutes } from './campaigns.js';
import { conversationRoutes } from './conversations.js';
import { contactRoutes } from './contacts.js';
import { sendTimeRoutes } from './send-time.js';
import { statsRoutes } from './stats.js';
import { apiKeyRoutes } from './api-keys.js';

export type { RouteDef } from './route-def.js';

export const routes: readonly RouteDef[] = [
  ...senderRoutes,
  ...messageRoutes,
  ...authRoutes,
  ...auditRoutes,
  ...consentRoutes,
  ...messagingSettingsRoutes,
  ...secureMessageRoutes,
  ...templateRoutes,
  ...guardRoutes,
  ...guardSettingsRoutes,
  ...retentionRoutes,
  ...riskRoutes,
  ...complianceRoutes,
  ...policyRoutes,
  ...appointmentRoutes,
  ...campaignRoutes,
  ...conversationRoutes,
  ...contactRoutes,
  ...sendTimeRoutes,
  ...statsRoutes,
  ...apiKeyRoutes,
];

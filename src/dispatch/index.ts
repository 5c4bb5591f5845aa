/**
 * @module dispatch
 * The worker that moves accepted messages to carriers, and its durable queue.
 */
export {
  DispatchWorker,
  DEFAULT_WORKER_OPTIONS,
  backoffDelay,
  errorSummary,
  type WorkerOptions,
} from './worker.js';
export { SenderRateLimiter } from './rate-limit.js';
export {
  SegmentLimiter,
  TEN_DLC_PRESETS,
  capDay,
  perSecond,
  type LimitedSender,
} from './segment-limit.js';
export { countJobs } from './queue.js';

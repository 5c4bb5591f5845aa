/**
 * @module templates
 * Organisation templates with typed slots (issue 5, "Templates"): a template is the
 * organisation's own wording with `{{slot}}` placeholders whose names are their types
 * (`firstName`, `date`, `time`, `clinicName`, `location`, `providerName`, `link`, `phone`,
 * `code`). It is scanned by the content guard when saved and each variable is checked by
 * type when rendered, so a text sent from a template carries no health information.
 * The slot rules (slots.ts) and the syntax (parse-template.ts) are pure; the service
 * (templates.ts) owns the `templates` table. See docs/templates.md.
 */
export {
  MAX_TEMPLATE_CHARS,
  MAX_TEMPLATE_NAME,
  MAX_TEMPLATES_LISTED,
  Templates,
  type PreviewResult,
  type RenderedTemplate,
  type TemplateChange,
  type TemplateInput,
  type TemplatesOptions,
  type TemplateView,
} from './templates.js';
export {
  formatSlot,
  isSlotType,
  MAX_VARIABLE_CHARS,
  SLOT_RULES,
  SLOT_SAMPLES,
  SLOT_TYPES,
  type Scanner,
  type SlotContext,
  type SlotResult,
  type SlotType,
} from './slots.js';
export { fillTemplate, parseTemplate, type ParsedTemplate } from './parse-template.js';

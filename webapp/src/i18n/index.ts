// All user-visible text lives in en.json, so that it can later be handed to
// registry.registerTranslations without touching the components.
import en from './en.json';

export type MessageId = keyof typeof en;

export function t(id: MessageId): string {
    return en[id];
}

// A message with its {placeholders} replaced by text (React escapes it
// where it is shown; an unknown placeholder stays visible).
export function formatText(id: MessageId, values: Record<string, string | number>): string {
    return t(id).replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

// All user-visible text lives in en.json, so that it can later be handed to
// registry.registerTranslations without touching the components.
import React from 'react';

import en from './en.json';

export type MessageId = keyof typeof en;

export function t(id: MessageId): string {
    return en[id];
}

// A message whose {placeholders} are replaced by text.
export function tf(id: MessageId, values: Record<string, string | number>): string {
    return t(id).replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

// Renders a message whose {placeholders} are replaced by React nodes, such as
// a <code> element in the middle of a sentence. No HTML is ever parsed.
export function formatMessage(id: MessageId, values: Record<string, React.ReactNode>): React.ReactNode {
    const parts = t(id).split(/\{(\w+)\}/);

    // split() with a capture group alternates: text, name, text, name, ...
    return parts.map((part, index) => {
        let node: React.ReactNode = part;
        if (index % 2 === 1) {
            // Leave an unknown placeholder visible rather than silently dropping it.
            node = part in values ? values[part] : `{${part}}`;
        }
        return <React.Fragment key={index}>{node}</React.Fragment>;
    });
}

// A message with its {placeholders} replaced by strings, for attributes
// such as aria-label.
export function formatText(id: MessageId, values: Record<string, string | number>): string {
    return t(id).replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

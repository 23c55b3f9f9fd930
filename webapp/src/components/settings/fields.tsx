// Labelled inputs of the settings form. Each field is named by its path in
// the setting's JSON ("profiles[1].validity_days"): its id derives from it,
// and the server's messages about that path show beside it.
import React, {createContext, useContext, useEffect, useState} from 'react';

import {errorText, subtle, textColor} from '../styles';

import {listText, parseList} from './catalog';

// FieldContext gives fields the id prefix, the server's messages by path,
// and whether the setting may be edited.
export interface FieldContextValue {
    idPrefix: string;
    problems: Record<string, string[]>;
    disabled: boolean;
}

export const FieldContext = createContext<FieldContextValue>({idPrefix: 'setting', problems: {}, disabled: false});

export function fieldId(idPrefix: string, path: string): string {
    return `${idPrefix}-${path.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
}

// useField is what an input of path needs: its id, the ids that describe
// it (help, then messages), whether it is invalid, and the elements that
// show the help and the messages.
function useField(path: string, help?: React.ReactNode) {
    const {idPrefix, problems, disabled} = useContext(FieldContext);
    const id = fieldId(idPrefix, path);
    const messages = problems[path] ?? [];
    const helpId = `${id}-help`;
    const errorId = `${id}-error`;
    const describedBy = [help ? helpId : '', messages.length > 0 ? errorId : ''].filter(Boolean).join(' ') || undefined;
    const below = (
        <>
            {help ? <div id={helpId} style={styles.help}>{help}</div> : null}
            {messages.length > 0 ? (
                <div
                    id={errorId}
                    style={styles.error}
                >
                    {messages.map((m, i) => <div key={i}>{m}</div>)}
                </div>
            ) : null}
        </>
    );
    return {id, describedBy, invalid: messages.length > 0, disabled, below};
}

interface BaseProps {
    path: string;
    label: string;
    help?: React.ReactNode;
}

export function TextField({path, label, help, value, onChange, type = 'text'}: BaseProps & {
    value: unknown;
    onChange: (v: string | undefined) => void;
    type?: 'text' | 'url';
}) {
    const f = useField(path, help);
    return (
        <div style={styles.field}>
            <label htmlFor={f.id} style={styles.label}>{label}</label>
            <input
                id={f.id}
                type={type}
                value={typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value)}
                disabled={f.disabled}
                aria-invalid={f.invalid || undefined}
                aria-describedby={f.describedBy}
                style={styles.input}
                onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}
            />
            {f.below}
        </div>
    );
}

export function NumberField({path, label, help, value, onChange}: BaseProps & {
    value: unknown;
    onChange: (v: number | undefined) => void;
}) {
    const f = useField(path, help);
    return (
        <div style={styles.field}>
            <label htmlFor={f.id} style={styles.label}>{label}</label>
            <input
                id={f.id}
                type='number'
                step={1}
                value={typeof value === 'number' ? String(value) : ''}
                disabled={f.disabled}
                aria-invalid={f.invalid || undefined}
                aria-describedby={f.describedBy}
                style={{...styles.input, maxWidth: 160}}
                onChange={(e) => {
                    const n = e.target.value === '' ? NaN : Number(e.target.value);
                    onChange(Number.isFinite(n) ? n : undefined);
                }}
            />
            {f.below}
        </div>
    );
}

export function CheckboxField({path, label, help, checked, onChange}: BaseProps & {
    checked: boolean;
    onChange: (checked: boolean) => void;
}) {
    const f = useField(path, help);
    return (
        <div style={styles.field}>
            <div style={styles.checkboxRow}>
                <input
                    id={f.id}
                    type='checkbox'
                    checked={checked}
                    disabled={f.disabled}
                    aria-invalid={f.invalid || undefined}
                    aria-describedby={f.describedBy}
                    onChange={(e) => onChange(e.target.checked)}
                />
                <label htmlFor={f.id} style={styles.checkboxLabel}>{label}</label>
            </div>
            {f.below}
        </div>
    );
}

export interface Option {
    value: string;
    label: string;
}

// SelectField's '' option means "not set" (the key is left out).
export function SelectField({path, label, help, value, options, onChange}: BaseProps & {
    value: unknown;
    options: Option[];
    onChange: (v: string | undefined) => void;
}) {
    const f = useField(path, help);
    return (
        <div style={styles.field}>
            <label htmlFor={f.id} style={styles.label}>{label}</label>
            <select
                id={f.id}
                value={typeof value === 'string' ? value : ''}
                disabled={f.disabled}
                aria-invalid={f.invalid || undefined}
                aria-describedby={f.describedBy}
                style={styles.input}
                onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}
            >
                {options.map((o) => (
                    <option key={o.value} value={o.value}>{o.label}</option>
                ))}
            </select>
            {f.below}
        </div>
    );
}

// ListField edits a list of strings as comma-separated text. The text is
// kept as typed (a trailing comma, spaces) while it means the same list.
export function ListField({path, label, help, value, onChange}: BaseProps & {
    value: unknown;
    onChange: (v: string[] | undefined) => void;
}) {
    const f = useField(path, help);
    const [text, setText] = useState(() => listText(value));
    useEffect(() => {
        if (listText(parseList(text)) !== listText(value)) {
            setText(listText(value));
        }
        // Only a change from elsewhere (the JSON editor) resets the text.
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [listText(value)]);
    return (
        <div style={styles.field}>
            <label htmlFor={f.id} style={styles.label}>{label}</label>
            <input
                id={f.id}
                type='text'
                value={text}
                disabled={f.disabled}
                aria-invalid={f.invalid || undefined}
                aria-describedby={f.describedBy}
                style={styles.input}
                onChange={(e) => {
                    setText(e.target.value);
                    onChange(parseList(e.target.value));
                }}
            />
            {f.below}
        </div>
    );
}

// SecretField edits a password the server keeps sealed. A stored one is
// never shown: the field says it is stored, and keeps it until the admin
// types a new one. stored is the value the setting holds for this field
// (a "sealed:" marker, or a password saved in clear).
export function SecretField({path, label, help, value, stored, onChange, texts}: BaseProps & {
    value: unknown;
    stored: string | undefined;
    onChange: (v: string | undefined) => void;
    texts: {stored: string; change: string; keep: string; newHelp: string};
}) {
    const [changing, setChanging] = useState(false);
    const [draft, setDraft] = useState('');
    const isStored = stored !== undefined && value === stored;
    const f = useField(path, changing ? texts.newHelp : help);
    const statusId = `${f.id}-status`;

    if (stored !== undefined && (isStored || changing)) {
        if (!changing) {
            return (
                <div style={styles.field}>
                    <span id={`${f.id}-label`} style={styles.label}>{label}</span>
                    <div style={styles.checkboxRow}>
                        <span id={statusId} style={styles.stored}>{texts.stored}</span>
                        <button
                            id={f.id}
                            type='button'
                            disabled={f.disabled}
                            aria-describedby={[statusId, f.describedBy].filter(Boolean).join(' ')}
                            aria-label={`${texts.change}: ${label}`}
                            style={styles.smallButton}
                            onClick={() => {
                                setDraft('');
                                setChanging(true);
                            }}
                        >
                            {texts.change}
                        </button>
                    </div>
                    {f.below}
                </div>
            );
        }
        return (
            <div style={styles.field}>
                <label htmlFor={f.id} style={styles.label}>{label}</label>
                <div style={styles.checkboxRow}>
                    <PasswordInput
                        field={f}
                        value={draft}
                        onChange={(typed) => {
                            setDraft(typed);
                            // Empty keeps the stored password: a save never empties it.
                            onChange(typed === '' ? stored : typed);
                        }}
                    />
                    <button
                        type='button'
                        disabled={f.disabled}
                        style={styles.smallButton}
                        onClick={() => {
                            setChanging(false);
                            setDraft('');
                            onChange(stored);
                        }}
                    >
                        {texts.keep}
                    </button>
                </div>
                {f.below}
            </div>
        );
    }
    return (
        <div style={styles.field}>
            <label htmlFor={f.id} style={styles.label}>{label}</label>
            <PasswordInput
                field={f}
                value={typeof value === 'string' ? value : ''}
                onChange={(typed) => onChange(typed === '' ? undefined : typed)}
            />
            {f.below}
        </div>
    );
}

// PasswordInput is a secret's input: never filled in by the browser's
// password manager, described and marked as its field is.
function PasswordInput({field, value, onChange}: {field: ReturnType<typeof useField>; value: string; onChange: (typed: string) => void}) {
    return (
        <input
            id={field.id}
            type='password'
            autoComplete='new-password'
            value={value}
            disabled={field.disabled}
            aria-invalid={field.invalid || undefined}
            aria-describedby={field.describedBy}
            style={styles.input}
            onChange={(e) => onChange(e.target.value)}
        />
    );
}

// Inline styles on the host's theme variables, with light-theme fallbacks.
export {errorText as errorColor, subtle, textColor} from '../styles';

export const styles: Record<string, React.CSSProperties> = {
    field: {marginBottom: 12},
    label: {display: 'block', fontWeight: 600, fontSize: 14, marginBottom: 4, color: textColor},
    checkboxRow: {display: 'flex', alignItems: 'center', gap: 8, flexWrap: 'wrap'},
    checkboxLabel: {fontWeight: 400, fontSize: 14, margin: 0, color: textColor},
    input: {
        width: '100%',
        maxWidth: 480,
        padding: '6px 10px',
        fontSize: 14,
        color: textColor,
        background: 'var(--center-channel-bg, #ffffff)',
        border: `1px solid ${subtle(0.24)}`,
        borderRadius: 4,
    },
    help: {fontSize: 12, marginTop: 4, color: subtle(0.8)},
    error: {fontSize: 13, marginTop: 4, color: errorText},
    stored: {fontSize: 14, color: subtle(0.8), fontStyle: 'italic'},
    smallButton: {
        padding: '4px 10px',
        fontSize: 13,
        fontWeight: 600,
        color: 'var(--button-bg, #1c58d9)',
        background: 'transparent',
        border: `1px solid ${subtle(0.24)}`,
        borderRadius: 4,
        cursor: 'pointer',
    },
};

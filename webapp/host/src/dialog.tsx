// An interactive dialog a server or plugin opened (WebSocket event
// open_dialog), submitted through POST /api/v4/actions/dialogs/submit as the web
// app does. Text, textarea, select, radio and bool elements.
import React, {useEffect, useRef, useState} from 'react';

import {api, errorText} from './client';
import {MessageText} from './message';

interface DialogElement {
    display_name: string;
    name: string;
    type: string;
    subtype?: string;
    default?: string;
    placeholder?: string;
    help_text?: string;
    optional?: boolean;
    options?: Array<{text: string; value: string}>;
}

export interface DialogRequest {
    trigger_id: string;
    url: string;
    dialog: {
        callback_id?: string;
        title: string;
        introduction_text?: string;
        elements?: DialogElement[];
        submit_label?: string;
        notify_on_cancel?: boolean;
        state?: string;
    };
}

interface Props {
    request: DialogRequest;
    channelId: string;
    teamId: string;
    onClose: () => void;
}

export function InteractiveDialog({request, channelId, teamId, onClose}: Props) {
    const {dialog} = request;
    const elements = dialog.elements || [];
    const [values, setValues] = useState<Record<string, string | boolean>>(() => {
        const initial: Record<string, string | boolean> = {};
        for (const el of elements) {
            initial[el.name] = el.type === 'bool' ? el.default === 'true' : (el.default || '');
        }
        return initial;
    });
    const [errors, setErrors] = useState<Record<string, string>>({});
    const [error, setError] = useState('');
    const [busy, setBusy] = useState(false);
    const first = useRef<HTMLElement | null>(null);
    const titleId = `dialog-${request.trigger_id || 'x'}-title`;

    useEffect(() => {
        const previous = document.activeElement as HTMLElement | null;
        first.current?.focus();
        return () => previous?.focus();
    }, []);

    const send = async (cancelled: boolean) => {
        const body = {
            url: request.url,
            callback_id: dialog.callback_id || '',
            state: dialog.state || '',
            channel_id: channelId,
            team_id: teamId,
            submission: cancelled ? {} : values,
            cancelled,
        };
        return api<{error?: string; errors?: Record<string, string>} | null>('POST', '/api/v4/actions/dialogs/submit', body);
    };

    const cancel = () => {
        if (dialog.notify_on_cancel) {
            send(true).catch(() => undefined);
        }
        onClose();
    };

    const submit = async (event: React.FormEvent) => {
        event.preventDefault();
        setBusy(true);
        setError('');
        try {
            const answer = await send(false);
            if (answer?.errors && Object.keys(answer.errors).length > 0) {
                setErrors(answer.errors);
                setError(answer.error || 'Please correct the fields below.');
            } else if (answer?.error) {
                setError(answer.error);
            } else {
                onClose();
            }
        } catch (e) {
            setError(errorText(e));
        } finally {
            setBusy(false);
        }
    };

    return (
        <div className='backdrop'>
            <div
                role='dialog'
                aria-modal='true'
                aria-labelledby={titleId}
                className='dialog'
                onKeyDown={(e) => {
                    if (e.key === 'Escape') {
                        e.preventDefault();
                        cancel();
                    }
                }}
            >
                <form onSubmit={submit}>
                    <h2 id={titleId}>{dialog.title}</h2>
                    {dialog.introduction_text && <p><MessageText text={dialog.introduction_text}/></p>}
                    {error && <p role='alert' className='error'>{error}</p>}
                    {elements.map((el, i) => {
                        const id = `dialog-field-${el.name}`;
                        const help = el.help_text ? `${id}-help` : undefined;
                        const common = {
                            id,
                            name: el.name,
                            'aria-describedby': [help, errors[el.name] ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined,
                            'aria-invalid': errors[el.name] ? true : undefined,
                            required: !el.optional && el.type !== 'bool',
                            ref: i === 0 ? (node: HTMLElement | null) => {
                                first.current = node;
                            } : undefined,
                        };
                        let control: React.ReactNode;
                        if (el.type === 'bool') {
                            control = (
                                <input
                                    {...common}
                                    type='checkbox'
                                    checked={Boolean(values[el.name])}
                                    onChange={(e) => setValues({...values, [el.name]: e.target.checked})}
                                />
                            );
                        } else if (el.type === 'select' || el.type === 'radio') {
                            control = (
                                <select
                                    {...common}
                                    value={String(values[el.name])}
                                    onChange={(e) => setValues({...values, [el.name]: e.target.value})}
                                >
                                    <option value=''>{el.placeholder || 'Choose…'}</option>
                                    {(el.options || []).map((o) => (
                                        <option
                                            key={o.value}
                                            value={o.value}
                                        >{o.text}</option>
                                    ))}
                                </select>
                            );
                        } else if (el.type === 'textarea') {
                            control = (
                                <textarea
                                    {...common}
                                    placeholder={el.placeholder}
                                    value={String(values[el.name])}
                                    onChange={(e) => setValues({...values, [el.name]: e.target.value})}
                                />
                            );
                        } else {
                            control = (
                                <input
                                    {...common}
                                    type={el.subtype === 'password' ? 'password' : 'text'}
                                    placeholder={el.placeholder}
                                    value={String(values[el.name])}
                                    onChange={(e) => setValues({...values, [el.name]: e.target.value})}
                                />
                            );
                        }
                        return (
                            <div
                                className='field'
                                key={el.name}
                            >
                                <label htmlFor={id}>{el.display_name}{el.optional ? ' (optional)' : ''}</label>
                                {control}
                                {el.help_text && <small id={help}>{el.help_text}</small>}
                                {errors[el.name] && <small id={`${id}-error`} className='error'>{errors[el.name]}</small>}
                            </div>
                        );
                    })}
                    <div className='actions'>
                        <button
                            type='button'
                            onClick={cancel}
                        >{'Cancel'}</button>
                        <button
                            type='submit'
                            className='primary'
                            disabled={busy}
                        >{dialog.submit_label || 'Submit'}</button>
                    </div>
                </form>
            </div>
        </div>
    );
}

// The System Console's form for the ConnectorsAndProfiles setting: the
// connectors and profiles as rows, or the same JSON as text. It hands the
// System Console the JSON string the setting stores, so a save through the
// form is a save of that JSON. The server checks each edit
// (POST /admin/settings/check) and its messages show beside their fields.
import React, {useCallback, useEffect, useMemo, useRef, useState} from 'react';

import {apiFetch} from '../../client/http';
import {formatText, t} from '../../i18n';
import type {AdminConsoleCustomSettingProps} from '../../types/plugin_registry';

import {
    CATALOG_KEYS, CONNECTOR_KEYS, PROFILE_FIELDS, STEPCA_KEYS,
    type CatalogDoc, type JSONObject,
    isDefaultCatalog, maskSecrets, otherKeys, parseCatalog, placeOf,
    serializeCatalog, setPath, storedPassword, unmaskSecrets,
} from './catalog';
import {FieldContext, SelectField, errorColor, fieldId, styles as fieldStyles, subtle, textColor} from './fields';
import {ConnectorFields, ProfileFields, Row, namedOptions, rowName} from './rows';

// How long the form waits after an edit before asking the server.
export const CHECK_DELAY_MS = 600;

export interface Problem {
    field: string;
    message: string;
}

type ListName = 'connectors' | 'profiles';

// The form's state: the document, an id for each row (React keys that
// follow a row when it moves), and each connector row's stored password.
interface Rows {
    doc: CatalogDoc;
    ids: Record<ListName, string[]>;
    secrets: Record<string, string | undefined>;
}

let nextRowId = 0;
const newRowId = () => `row${++nextRowId}`;

function rowsOf(doc: CatalogDoc, stored: CatalogDoc, previous?: Rows): Rows {
    const ids = {connectors: [] as string[], profiles: [] as string[]};
    for (const list of ['connectors', 'profiles'] as const) {
        const n = Array.isArray(doc[list]) ? doc[list]!.length : 0;
        for (let i = 0; i < n; i++) {
            ids[list].push(previous?.ids[list][i] ?? newRowId());
        }
    }
    const secrets: Record<string, string | undefined> = {};
    (doc.connectors ?? []).forEach((conn, i) => {
        secrets[ids.connectors[i]] = storedPassword(stored, i, conn);
    });
    return {doc, ids, secrets};
}

function valueText(value: unknown): string {
    return typeof value === 'string' ? value : '';
}

// checkSettings asks the server what a save would say of the setting.
export async function checkSettings(json: string): Promise<Problem[]> {
    const result = await apiFetch<{problems?: Problem[]}>('/admin/settings/check', {
        method: 'POST',
        body: JSON.stringify({connectors_and_profiles: json}),
    });
    return result?.problems ?? [];
}

// A profile that verifies attestations needs the attestation roots, which
// the admin may be pasting in the same save: the server judges that one.
const needsOtherSetting = (p: Problem) => p.message.startsWith('Trusted attestation roots:');

export function ConnectorsAndProfilesSetting(props: AdminConsoleCustomSettingProps) {
    const {id, onChange, registerSaveAction, unRegisterSaveAction} = props;
    const disabled = Boolean(props.disabled || props.setByEnv);
    const value = valueText(props.value);

    const initial = useMemo(() => parseCatalog(value), []); // eslint-disable-line react-hooks/exhaustive-deps
    const [stored, setStored] = useState<CatalogDoc>(initial.ok ? initial.doc : {});
    const [rows, setRowsState] = useState<Rows>(() => rowsOf(initial.ok ? initial.doc : {}, initial.ok ? initial.doc : {}));

    // The rows as last set, for edits made one after the other before a
    // render (a connector's type and its step-ca settings).
    const rowsRef = useRef(rows);
    const setRows = useCallback((next: Rows) => {
        rowsRef.current = next;
        setRowsState(next);
    }, []);
    const [jsonMode, setJsonMode] = useState(!initial.ok);
    const [jsonText, setJsonText] = useState(initial.ok ? '' : value);
    const [jsonError, setJsonError] = useState(initial.ok ? '' : initial.error);
    const [storedError, setStoredError] = useState(initial.ok ? '' : initial.error);
    const [problems, setProblems] = useState<Problem[]>([]);
    const [checkError, setCheckError] = useState('');
    const [checking, setChecking] = useState(false);

    // What the setting holds now, as the form last handed it over (or as
    // stored); a value prop that differs came from elsewhere (a save).
    const current = useRef(value);
    const jsonErrorRef = useRef(jsonError);
    jsonErrorRef.current = jsonError;
    const timer = useRef<ReturnType<typeof setTimeout>>();
    const checkSeq = useRef(0);
    const focusAfterMove = useRef<{list: ListName; rowId: string; direction: 'up' | 'down'} | null>(null);

    useEffect(() => {
        if (value === current.current) {
            return;
        }
        current.current = value;
        const parsed = parseCatalog(value);
        const doc = parsed.ok ? parsed.doc : {};
        setStored(doc);
        setRows(rowsOf(doc, doc));
        setProblems([]);
        setStoredError(parsed.ok ? '' : parsed.error);
        setJsonError(parsed.ok ? '' : parsed.error);
        setJsonText(parsed.ok ? serializeCatalog(maskSecrets(doc, doc)) : value);
        if (!parsed.ok) {
            setJsonMode(true);
        }
    }, [value, setRows]);

    useEffect(() => () => clearTimeout(timer.current), []);

    const runCheck = useCallback(async (json: string): Promise<Problem[] | null> => {
        const seq = ++checkSeq.current;
        setChecking(true);
        try {
            const found = await checkSettings(json);
            if (seq === checkSeq.current) {
                setProblems(found);
                setCheckError('');
            }
            return found;
        } catch (err) {
            if (seq === checkSeq.current) {
                setCheckError(err instanceof Error ? err.message : String(err));
            }
            return null;
        } finally {
            if (seq === checkSeq.current) {
                setChecking(false);
            }
        }
    }, []);

    const scheduleCheck = useCallback((json: string) => {
        clearTimeout(timer.current);
        timer.current = setTimeout(() => {
            runCheck(json);
        }, CHECK_DELAY_MS);
    }, [runCheck]);

    const emit = useCallback((json: string) => {
        current.current = json;
        onChange(id, json);
        scheduleCheck(json);
    }, [id, onChange, scheduleCheck]);

    // The System Console runs save actions once it has sent the settings
    // (Mattermost has no hook before the save: the server's own check,
    // ConfigurationWillBeSaved, is what refuses a bad catalog, and the
    // debounced check has shown its problems beside their fields while the
    // admin edited). This one checks the value just sent at once, so its
    // problems show beside their fields, and answers an error, which keeps
    // the page unsaved, when the server finds any or the JSON editor holds
    // text that does not read (the last text that did was sent). A check
    // that cannot be made is no error: the server checked as it saved.
    // With nothing wrong, what was sent is the stored value now: a password
    // just typed counts as stored.
    const saveAction = useCallback(async () => {
        if (jsonErrorRef.current) {
            return {error: {message: formatText('settings.save_blocked', {message: jsonErrorRef.current})}};
        }
        clearTimeout(timer.current);
        const found = await runCheck(current.current);
        const blocking = (found ?? []).filter((p) => !needsOtherSetting(p));
        if (blocking.length > 0) {
            return {error: {message: formatText('settings.save_blocked', {message: blocking[0].message})}};
        }
        const saved = rowsRef.current;
        setStored(saved.doc);
        setRows(rowsOf(saved.doc, saved.doc, saved));
        return {};
    }, [runCheck, setRows]);

    useEffect(() => {
        registerSaveAction(saveAction);
        return () => unRegisterSaveAction(saveAction);
    }, [registerSaveAction, unRegisterSaveAction, saveAction]);

    // update changes the document; a change of rows (added, removed,
    // moved) drops the server's messages, whose paths no longer fit.
    const update = (f: (doc: CatalogDoc) => CatalogDoc, reshaped?: (ids: Rows['ids']) => Rows['ids']) => {
        const last = rowsRef.current;
        const doc = f(last.doc);
        const ids = reshaped ? reshaped(last.ids) : last.ids;
        const next: Rows = {doc, ids, secrets: last.secrets};
        setRows(next);
        if (reshaped) {
            setProblems([]);
        }
        emit(serializeCatalog(doc));
    };

    const setEntry = (list: ListName, index: number, path: string, v: unknown) => {
        update((doc) => {
            const entries = [...(doc[list] ?? [])];
            const before = entries[index];
            entries[index] = setPath(before, path, v);
            let next: CatalogDoc = {...doc, [list]: entries};
            // A renamed connector or profile takes the references to it along.
            const oldName = before.name;
            if (path === 'name' && typeof oldName === 'string' && oldName !== '') {
                if (list === 'connectors' && Array.isArray(next.profiles)) {
                    next = {...next, profiles: next.profiles.map((p) => (p.connector === oldName ? {...p, connector: v} : p))};
                }
                if (list === 'profiles' && next.default_profile === oldName) {
                    next = {...next, default_profile: v as string};
                }
            }
            return next;
        });
    };

    const addEntry = (list: ListName) => {
        const hasBuiltin = (rows.doc.connectors ?? []).some((c) => c.type === 'builtin');
        const entry: JSONObject = list === 'connectors' ? (hasBuiltin ? {name: '', type: 'stepca', stepca: {}} : {name: '', type: 'builtin'}) : {name: ''};
        const rowId = newRowId();
        update((doc) => ({...doc, [list]: [...(doc[list] ?? []), entry]}), (ids) => ({...ids, [list]: [...ids[list], rowId]}));
        setTimeout(() => document.getElementById(fieldId(id, `${list}[${rows.ids[list].length}].name`))?.focus(), 0);
    };

    const removeEntry = (list: ListName, index: number) => {
        update((doc) => ({...doc, [list]: (doc[list] ?? []).filter((_, i) => i !== index)}),
            (ids) => ({...ids, [list]: ids[list].filter((_, i) => i !== index)}));
    };

    const moveEntry = (list: ListName, index: number, direction: 'up' | 'down') => {
        const to = direction === 'up' ? index - 1 : index + 1;
        const swap = <T, >(items: T[]) => {
            const out = [...items];
            [out[index], out[to]] = [out[to], out[index]];
            return out;
        };
        focusAfterMove.current = {list, rowId: rows.ids[list][index], direction};
        update((doc) => ({...doc, [list]: swap(doc[list] ?? [])}), (ids) => ({...ids, [list]: swap(ids[list])}));
    };

    // The moved row keeps the focus on its button, or on the other one
    // when it reached the end of the list.
    useEffect(() => {
        const move = focusAfterMove.current;
        if (!move) {
            return;
        }
        focusAfterMove.current = null;
        const mine = document.getElementById(`${id}-${move.rowId}-${move.direction}`) as HTMLButtonElement | null;
        const other = document.getElementById(`${id}-${move.rowId}-${move.direction === 'up' ? 'down' : 'up'}`) as HTMLButtonElement | null;
        (mine && !mine.disabled ? mine : other)?.focus();
    });

    const startFromDefault = () => {
        update(() => ({
            connectors: [{name: 'builtin', type: 'builtin'}],
            profiles: [{name: 'default', description: 'Client certificate for VPN, Wi-Fi and mTLS', connector: 'builtin'}],
        }), () => ({connectors: [newRowId()], profiles: [newRowId()]}));
    };

    const showJSON = () => {
        setJsonText(serializeCatalog(maskSecrets(rows.doc, stored)));
        setJsonError('');
        setJsonMode(true);
    };

    const showForm = () => {
        // The form keeps the last JSON that read; invalid text is dropped.
        setJsonError('');
        setJsonMode(false);
    };

    const editJSON = (text: string) => {
        setJsonText(text);
        const parsed = parseCatalog(text);
        if (!parsed.ok) {
            setJsonError(parsed.error);
            return;
        }
        setJsonError('');
        setStoredError('');
        const doc = unmaskSecrets(parsed.doc, stored);
        setRows(rowsOf(doc, stored, rowsRef.current));
        emit(serializeCatalog(doc));
    };

    // The server's messages: by the field they name, or at the top.
    const placed: Record<string, string[]> = {};
    const unplaced: string[] = [];
    for (const p of problems) {
        const place = jsonMode ? undefined : placeOf(p.field, rows.doc);
        if (place) {
            (placed[place] ??= []).push(p.message);
        } else {
            unplaced.push(p.message);
        }
    }

    const connectors = rows.doc.connectors ?? [];
    const profiles = rows.doc.profiles ?? [];
    const topOther = otherKeys(rows.doc, CATALOG_KEYS);

    return (
        <FieldContext.Provider value={{idPrefix: id, problems: placed, disabled}}>
            <div style={styles.root}>
                <div style={styles.toolbar}>
                    <button
                        type='button'
                        aria-pressed={jsonMode}
                        style={fieldStyles.smallButton}
                        onClick={jsonMode ? showForm : showJSON}
                    >
                        {jsonMode ? t('settings.edit_as_form') : t('settings.edit_as_json')}
                    </button>
                    <span aria-live='polite' style={fieldStyles.help}>{checking ? t('settings.checking') : ''}</span>
                </div>

                {storedError ? (
                    <div role='alert' style={styles.alert}>{formatText('settings.stored_invalid', {error: storedError})}</div>
                ) : null}
                {checkError ? (
                    <div role='status' style={styles.alert}>{formatText('settings.check_failed', {error: checkError})}</div>
                ) : null}
                {unplaced.length > 0 ? (
                    <div role='alert' style={styles.alert}>
                        <div>{t('settings.problems_heading')}</div>
                        <ul style={styles.problemList}>
                            {unplaced.map((m, i) => <li key={i}>{m}</li>)}
                        </ul>
                    </div>
                ) : null}

                {jsonMode ? (
                    <JSONEditor
                        id={`${id}-json`}
                        text={jsonText}
                        error={jsonError}
                        disabled={disabled}
                        onChange={editJSON}
                    />
                ) : (
                    <>
                        {isDefaultCatalog(rows.doc) ? (
                            <div style={styles.note}>
                                <p style={{margin: '0 0 8px'}}>{t('settings.default_note')}</p>
                                <button type='button' disabled={disabled} style={fieldStyles.smallButton} onClick={startFromDefault}>
                                    {t('settings.start_from_default')}
                                </button>
                            </div>
                        ) : null}

                        <section aria-labelledby={`${id}-connectors-heading`} style={styles.section}>
                            <h4 id={`${id}-connectors-heading`} style={styles.heading}>{t('settings.connectors.heading')}</h4>
                            <p style={fieldStyles.help}>{t('settings.connectors.help')}</p>
                            {connectors.length === 0 ? <p style={fieldStyles.help}>{t('settings.connectors.none')}</p> : null}
                            {connectors.map((conn, i) => (
                                <Row
                                    key={rows.ids.connectors[i]}
                                    idPrefix={`${id}-${rows.ids.connectors[i]}`}
                                    legend={rowName('connector', conn, i)}
                                    index={i}
                                    count={connectors.length}
                                    disabled={disabled}
                                    other={otherKeys(conn, CONNECTOR_KEYS.concat(conn.type === 'stepca' ? STEPCA_KEYS.map((k) => `stepca.${k}`) : []))}
                                    onMove={(direction) => moveEntry('connectors', i, direction)}
                                    onRemove={() => removeEntry('connectors', i)}
                                >
                                    <ConnectorFields
                                        conn={conn}
                                        base={`connectors[${i}]`}
                                        stored={rows.secrets[rows.ids.connectors[i]]}
                                        set={(path, v) => setEntry('connectors', i, path, v)}
                                    />
                                </Row>
                            ))}
                            <button type='button' disabled={disabled} style={fieldStyles.smallButton} onClick={() => addEntry('connectors')}>
                                {t('settings.connectors.add')}
                            </button>
                        </section>

                        <section aria-labelledby={`${id}-profiles-heading`} style={styles.section}>
                            <h4 id={`${id}-profiles-heading`} style={styles.heading}>{t('settings.profiles.heading')}</h4>
                            <p style={fieldStyles.help}>{t('settings.profiles.help')}</p>
                            {profiles.length === 0 ? <p style={fieldStyles.help}>{t('settings.profiles.none')}</p> : null}
                            {profiles.map((prof, i) => (
                                <Row
                                    key={rows.ids.profiles[i]}
                                    idPrefix={`${id}-${rows.ids.profiles[i]}`}
                                    legend={rowName('profile', prof, i)}
                                    index={i}
                                    count={profiles.length}
                                    disabled={disabled}
                                    other={otherKeys(prof, PROFILE_FIELDS)}
                                    onMove={(direction) => moveEntry('profiles', i, direction)}
                                    onRemove={() => removeEntry('profiles', i)}
                                >
                                    <ProfileFields
                                        prof={prof}
                                        base={`profiles[${i}]`}
                                        connectors={connectors}
                                        set={(path, v) => setEntry('profiles', i, path, v)}
                                    />
                                </Row>
                            ))}
                            <button type='button' disabled={disabled} style={fieldStyles.smallButton} onClick={() => addEntry('profiles')}>
                                {t('settings.profiles.add')}
                            </button>
                        </section>

                        {profiles.length > 0 || rows.doc.default_profile !== undefined ? (
                            <SelectField
                                path='default_profile'
                                label={t('settings.default_profile')}
                                value={rows.doc.default_profile}
                                options={namedOptions(t('settings.default_profile_first'), profiles, rows.doc.default_profile, 'settings.default_profile_missing')}
                                onChange={(v) => update((doc) => {
                                    const next = {...doc};
                                    if (v === undefined) {
                                        delete next.default_profile;
                                    } else {
                                        next.default_profile = v;
                                    }
                                    return next;
                                })}
                            />
                        ) : null}
                        {topOther.length > 0 ? (
                            <p style={fieldStyles.help}>{formatText('settings.row.other_keys', {keys: topOther.join(', ')})}</p>
                        ) : null}
                    </>
                )}
            </div>
        </FieldContext.Provider>
    );
}

function JSONEditor({id, text, error, disabled, onChange}: {id: string; text: string; error: string; disabled: boolean; onChange: (text: string) => void}) {
    const helpId = `${id}-help`;
    const errorId = `${id}-error`;
    return (
        <div style={fieldStyles.field}>
            <label htmlFor={id} style={fieldStyles.label}>{t('settings.json_label')}</label>
            <textarea
                id={id}
                value={text}
                rows={20}
                spellCheck={false}
                disabled={disabled}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `${helpId} ${errorId}` : helpId}
                style={{...fieldStyles.input, maxWidth: '100%', fontFamily: 'monospace', fontSize: 13}}
                onChange={(e) => onChange(e.target.value)}
            />
            <div id={helpId} style={fieldStyles.help}>{t('settings.json_help')}</div>
            {error ? <div id={errorId} role='alert' style={fieldStyles.error}>{formatText('settings.json_invalid', {error})}</div> : null}
        </div>
    );
}

const styles: Record<string, React.CSSProperties> = {
    root: {color: textColor, maxWidth: 760},
    toolbar: {display: 'flex', alignItems: 'center', gap: 12, marginBottom: 12},
    alert: {
        padding: '8px 12px',
        marginBottom: 12,
        borderRadius: 4,
        border: `1px solid ${errorColor}`,
        color: errorColor,
        background: 'rgba(var(--error-text-color-rgb, 210, 75, 78), 0.08)',
        fontSize: 14,
    },
    problemList: {margin: '4px 0 0', paddingLeft: 20},
    note: {padding: '8px 12px', marginBottom: 12, borderRadius: 4, background: subtle(0.04), border: `1px solid ${subtle(0.16)}`, fontSize: 14},
    section: {marginBottom: 16},
    heading: {fontSize: 16, fontWeight: 600, margin: '8px 0 4px'},
};

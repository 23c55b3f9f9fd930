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
    getPath, isDefaultCatalog, isObject, maskSecrets, otherKeys, parseCatalog, placeOf,
    serializeCatalog, setPath, storedPassword, unmaskSecrets,
} from './catalog';
import {
    CheckboxField, FieldContext, ListField, NumberField, type Option, SecretField, SelectField, TextField,
    errorColor, fieldId, styles as fieldStyles, subtle, textColor,
} from './fields';

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

function rowName(kind: 'connector' | 'profile', entry: JSONObject, i: number): string {
    const name = typeof entry.name === 'string' && entry.name !== '' ? entry.name : '';
    return name ? formatText(`settings.${kind}.legend`, {name}) : formatText(`settings.${kind}.unnamed`, {n: i + 1});
}

// namedOptions offers the entries by name, after the "not set" option, and
// keeps a value that names none of them.
function namedOptions(unset: string, entries: JSONObject[], current: unknown, missing: 'settings.default_profile_missing' | 'settings.profile.connector_missing'): Option[] {
    const names = entries.map((e) => e.name).filter((n): n is string => typeof n === 'string' && n !== '');
    const options: Option[] = [{value: '', label: unset}, ...names.map((n) => ({value: n, label: n}))];
    if (typeof current === 'string' && current !== '' && !names.includes(current)) {
        options.push({value: current, label: formatText(missing, {name: current})});
    }
    return options;
}

interface RowProps {
    idPrefix: string;
    legend: string;
    index: number;
    count: number;
    disabled: boolean;
    other: string[];
    onMove: (direction: 'up' | 'down') => void;
    onRemove: () => void;
    children: React.ReactNode;
}

// Row is one connector or profile: a fieldset named by it, with buttons to
// move it and remove it.
function Row({idPrefix, legend, index, count, disabled, other, onMove, onRemove, children}: RowProps) {
    return (
        <fieldset style={styles.row}>
            <legend style={styles.legend}>{legend}</legend>
            <div style={styles.rowButtons}>
                <button
                    id={`${idPrefix}-up`}
                    type='button'
                    disabled={disabled || index === 0}
                    aria-label={formatText('settings.row.move_up', {name: legend})}
                    style={fieldStyles.smallButton}
                    onClick={() => onMove('up')}
                >
                    {t('settings.row.up')}
                </button>
                <button
                    id={`${idPrefix}-down`}
                    type='button'
                    disabled={disabled || index === count - 1}
                    aria-label={formatText('settings.row.move_down', {name: legend})}
                    style={fieldStyles.smallButton}
                    onClick={() => onMove('down')}
                >
                    {t('settings.row.down')}
                </button>
                <button
                    type='button'
                    disabled={disabled}
                    aria-label={formatText('settings.row.remove', {name: legend})}
                    style={{...fieldStyles.smallButton, color: errorColor}}
                    onClick={onRemove}
                >
                    {t('settings.row.remove_short')}
                </button>
            </div>
            {children}
            {other.length > 0 ? <p style={fieldStyles.help}>{formatText('settings.row.other_keys', {keys: other.join(', ')})}</p> : null}
        </fieldset>
    );
}

type Setter = (path: string, v: unknown) => void;

function ConnectorFields({conn, base, stored, set}: {conn: JSONObject; base: string; stored: string | undefined; set: Setter}) {
    // The step-ca settings of a connector switched to builtin come back
    // if it is switched back.
    const stash = useRef<unknown>(undefined);
    const type = conn.type;
    const typeOptions: Option[] = [
        {value: 'builtin', label: t('settings.connector.type_builtin')},
        {value: 'stepca', label: t('settings.connector.type_stepca')},
    ];
    if (typeof type === 'string' && type !== 'builtin' && type !== 'stepca') {
        typeOptions.push({value: type, label: formatText('settings.connector.type_unknown', {type})});
    }
    if (typeof type !== 'string' || type === '') {
        typeOptions.unshift({value: '', label: ''});
    }
    const field = (key: string) => getPath(conn, `stepca.${key}`);
    return (
        <>
            <TextField path={`${base}.name`} label={t('settings.connector.name')} help={t('settings.connector.name_help')}
                value={conn.name} onChange={(v) => set('name', v ?? '')}/>
            <SelectField path={`${base}.type`} label={t('settings.connector.type')} value={type} options={typeOptions}
                onChange={(v) => {
                    if (v === 'stepca') {
                        set('type', v);
                        set('stepca', isObject(stash.current) ? stash.current : (isObject(conn.stepca) ? conn.stepca : {}));
                    } else {
                        if (conn.stepca !== undefined) {
                            stash.current = conn.stepca;
                        }
                        set('type', v);
                        set('stepca', undefined);
                    }
                }}/>
            {type === 'stepca' ? (
                <>
                    <TextField path={`${base}.stepca.url`} type='url' label={t('settings.stepca.url')} help={t('settings.stepca.url_help')}
                        value={field('url')} onChange={(v) => set('stepca.url', v)}/>
                    <TextField path={`${base}.stepca.root_fingerprint`} label={t('settings.stepca.root_fingerprint')} help={t('settings.stepca.root_fingerprint_help')}
                        value={field('root_fingerprint')} onChange={(v) => set('stepca.root_fingerprint', v)}/>
                    <TextField path={`${base}.stepca.provisioner`} label={t('settings.stepca.provisioner')} help={t('settings.stepca.provisioner_help')}
                        value={field('provisioner')} onChange={(v) => set('stepca.provisioner', v)}/>
                    <SecretField key={stored ?? ''} path={`${base}.stepca.provisioner_password`} label={t('settings.stepca.provisioner_password')}
                        help={t('settings.stepca.provisioner_password_help')} value={field('provisioner_password')} stored={stored}
                        onChange={(v) => set('stepca.provisioner_password', v)}
                        texts={{stored: t('settings.secret.stored'), change: t('settings.secret.change'), keep: t('settings.secret.keep'), newHelp: t('settings.secret.new_help')}}/>
                    <NumberField path={`${base}.stepca.timeout_seconds`} label={t('settings.stepca.timeout_seconds')} help={t('settings.stepca.timeout_seconds_help')}
                        value={field('timeout_seconds')} onChange={(v) => set('stepca.timeout_seconds', v)}/>
                </>
            ) : null}
        </>
    );
}

function ProfileFields({prof, base, connectors, set}: {prof: JSONObject; base: string; connectors: JSONObject[]; set: Setter}) {
    const get = (path: string) => getPath(prof, path);
    const flag = (path: string) => (checked: boolean) => set(path, checked ? true : undefined);
    const p = (path: string) => `${base}.${path}`;
    return (
        <>
            <TextField path={p('name')} label={t('settings.profile.name')} help={t('settings.profile.name_help')}
                value={prof.name} onChange={(v) => set('name', v ?? '')}/>
            <TextField path={p('description')} label={t('settings.profile.description')} value={prof.description} onChange={(v) => set('description', v)}/>
            <SelectField path={p('connector')} label={t('settings.profile.connector')} value={prof.connector}
                options={namedOptions(t('settings.profile.connector_default'), connectors, prof.connector, 'settings.profile.connector_missing')}
                onChange={(v) => set('connector', v)}/>
            <NumberField path={p('validity_days')} label={t('settings.profile.validity_days')} help={t('settings.profile.validity_days_help')}
                value={prof.validity_days} onChange={(v) => set('validity_days', v)}/>
            <ListField path={p('key_types')} label={t('settings.profile.key_types')} help={t('settings.profile.key_types_help')}
                value={prof.key_types} onChange={(v) => set('key_types', v)}/>
            <ListField path={p('ext_key_usages')} label={t('settings.profile.ext_key_usages')} help={t('settings.profile.ext_key_usages_help')}
                value={prof.ext_key_usages} onChange={(v) => set('ext_key_usages', v)}/>

            <Group title={t('settings.profile.subject')}>
                <SelectField path={p('subject.common_name')} label={t('settings.profile.common_name')} value={get('subject.common_name')}
                    options={withCurrent([
                        {value: '', label: t('settings.profile.common_name_default')},
                        {value: 'username', label: t('settings.profile.common_name_username')},
                        {value: 'email', label: t('settings.profile.common_name_email')},
                    ], get('subject.common_name'))}
                    onChange={(v) => set('subject.common_name', v)}/>
                <ListField path={p('subject.organization')} label={t('settings.profile.organization')} help={t('settings.profile.list_help')}
                    value={get('subject.organization')} onChange={(v) => set('subject.organization', v)}/>
                <ListField path={p('subject.organizational_unit')} label={t('settings.profile.organizational_unit')} help={t('settings.profile.list_help')}
                    value={get('subject.organizational_unit')} onChange={(v) => set('subject.organizational_unit', v)}/>
                <CheckboxField path={p('subject.email_san')} label={t('settings.profile.email_san')} checked={get('subject.email_san') !== false}
                    onChange={(checked) => set('subject.email_san', checked ? undefined : false)}/>
            </Group>

            <Group title={t('settings.profile.access')}>
                <ListField path={p('access.teams')} label={t('settings.profile.teams')} help={t('settings.profile.teams_help')}
                    value={get('access.teams')} onChange={(v) => set('access.teams', v)}/>
                <CheckboxField path={p('access.system_admins_only')} label={t('settings.profile.system_admins_only')}
                    checked={get('access.system_admins_only') === true} onChange={flag('access.system_admins_only')}/>
                <CheckboxField path={p('access.guests')} label={t('settings.profile.guests')} checked={get('access.guests') === true} onChange={flag('access.guests')}/>
                <CheckboxField path={p('access.portal')} label={t('settings.profile.portal')} checked={get('access.portal') === true} onChange={flag('access.portal')}/>
                <ListField path={p('access.oidc_groups')} label={t('settings.profile.oidc_groups')} help={t('settings.profile.oidc_groups_help')}
                    value={get('access.oidc_groups')} onChange={(v) => set('access.oidc_groups', v)}/>
                <CheckboxField path={p('access.local_accounts')} label={t('settings.profile.local_accounts')}
                    checked={get('access.local_accounts') === true} onChange={flag('access.local_accounts')}/>
            </Group>

            <Group title={t('settings.profile.approval')}>
                <CheckboxField path={p('requires_approval')} label={t('settings.profile.requires_approval')}
                    checked={prof.requires_approval === true} onChange={flag('requires_approval')}/>
                <ListField path={p('approvers')} label={t('settings.profile.approvers')} help={t('settings.profile.approvers_help')}
                    value={prof.approvers} onChange={(v) => set('approvers', v)}/>
                <NumberField path={p('approvals_required')} label={t('settings.profile.approvals_required')} help={t('settings.profile.approvals_required_help')}
                    value={prof.approvals_required} onChange={(v) => set('approvals_required', v)}/>
            </Group>

            <Group title={t('settings.profile.csr')}>
                <SelectField path={p('csr_names')} label={t('settings.profile.csr_names')} value={prof.csr_names}
                    options={withCurrent([
                        {value: '', label: t('settings.profile.csr_names_default')},
                        {value: 'ignore', label: t('settings.profile.csr_names_ignore')},
                        {value: 'match', label: t('settings.profile.csr_names_match')},
                    ], prof.csr_names)}
                    onChange={(v) => set('csr_names', v)}/>
                <SelectField path={p('attestation')} label={t('settings.profile.attestation')} value={prof.attestation}
                    options={withCurrent([
                        {value: '', label: t('settings.profile.attestation_default')},
                        {value: 'ignore', label: t('settings.profile.attestation_ignore')},
                        {value: 'verify_if_present', label: t('settings.profile.attestation_verify_if_present')},
                        {value: 'require', label: t('settings.profile.attestation_require')},
                    ], prof.attestation)}
                    onChange={(v) => set('attestation', v)}/>
            </Group>

            <Group title={t('settings.profile.limits')}>
                <NumberField path={p('limits.active')} label={t('settings.profile.limits_active')} help={t('settings.profile.limits_help')}
                    value={get('limits.active')} onChange={(v) => set('limits.active', v)}/>
                <NumberField path={p('limits.per_day')} label={t('settings.profile.limits_per_day')} help={t('settings.profile.limits_help')}
                    value={get('limits.per_day')} onChange={(v) => set('limits.per_day', v)}/>
            </Group>

            <Group title={t('settings.profile.renewal')}>
                <NumberField path={p('renewal.overlap_days')} label={t('settings.profile.overlap_days')} help={t('settings.profile.overlap_days_help')}
                    value={get('renewal.overlap_days')} onChange={(v) => set('renewal.overlap_days', v)}/>
                <CheckboxField path={p('renewal.skip_approval')} label={t('settings.profile.skip_approval')}
                    checked={get('renewal.skip_approval') === true} onChange={flag('renewal.skip_approval')}/>
                <CheckboxField path={p('renewal.revoke_replaced')} label={t('settings.profile.revoke_replaced')}
                    checked={get('renewal.revoke_replaced') === true} onChange={flag('renewal.revoke_replaced')}/>
            </Group>
        </>
    );
}

// withCurrent keeps a value the options do not offer (one the server will
// refuse, shown so the admin sees it).
function withCurrent(options: Option[], current: unknown): Option[] {
    if (typeof current === 'string' && current !== '' && !options.some((o) => o.value === current)) {
        return [...options, {value: current, label: current}];
    }
    return options;
}

function Group({title, children}: {title: string; children: React.ReactNode}) {
    return (
        <fieldset style={styles.group}>
            <legend style={styles.groupLegend}>{title}</legend>
            {children}
        </fieldset>
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
    row: {border: `1px solid ${subtle(0.16)}`, borderRadius: 8, padding: '8px 16px 12px', margin: '0 0 12px'},
    legend: {fontSize: 14, fontWeight: 600, padding: '0 4px', width: 'auto', border: 'none', margin: 0, color: textColor},
    rowButtons: {display: 'flex', gap: 8, justifyContent: 'flex-end', marginBottom: 8},
    group: {border: 'none', borderTop: `1px solid ${subtle(0.08)}`, padding: '8px 0 0', margin: '8px 0 0'},
    groupLegend: {fontSize: 13, fontWeight: 600, textTransform: 'uppercase', color: subtle(0.8), border: 'none', width: 'auto', margin: 0, padding: '0 4px 0 0'},
};

// The rows of the ConnectorsAndProfiles form: one fieldset per connector or
// profile, with its type-specific fields and the buttons that move and
// remove it.
import React, {useRef} from 'react';

import {formatText, t} from '../../i18n';

import {type JSONObject, getPath, isObject} from './catalog';
import {
    CheckboxField, ListField, NumberField, type Option, SecretField, SelectField, TextField,
    errorColor, styles as fieldStyles, subtle, textColor,
} from './fields';

export function rowName(kind: 'connector' | 'profile', entry: JSONObject, i: number): string {
    const name = typeof entry.name === 'string' && entry.name !== '' ? entry.name : '';
    return name ? formatText(`settings.${kind}.legend`, {name}) : formatText(`settings.${kind}.unnamed`, {n: i + 1});
}

// namedOptions offers the entries by name, after the "not set" option, and
// keeps a value that names none of them.
export function namedOptions(unset: string, entries: JSONObject[], current: unknown, missing: 'settings.default_profile_missing' | 'settings.profile.connector_missing'): Option[] {
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
export function Row({idPrefix, legend, index, count, disabled, other, onMove, onRemove, children}: RowProps) {
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

export type Setter = (path: string, v: unknown) => void;

export function ConnectorFields({conn, base, stored, set}: {conn: JSONObject; base: string; stored: string | undefined; set: Setter}) {
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

export function ProfileFields({prof, base, connectors, set}: {prof: JSONObject; base: string; connectors: JSONObject[]; set: Setter}) {
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

const styles: Record<string, React.CSSProperties> = {
    row: {border: `1px solid ${subtle(0.16)}`, borderRadius: 8, padding: '8px 16px 12px', margin: '0 0 12px'},
    legend: {fontSize: 14, fontWeight: 600, padding: '0 4px', width: 'auto', border: 'none', margin: 0, color: textColor},
    rowButtons: {display: 'flex', gap: 8, justifyContent: 'flex-end', marginBottom: 8},
    group: {border: 'none', borderTop: `1px solid ${subtle(0.08)}`, padding: '8px 0 0', margin: '8px 0 0'},
    groupLegend: {fontSize: 13, fontWeight: 600, textTransform: 'uppercase', color: subtle(0.8), border: 'none', width: 'auto', margin: 0, padding: '0 4px 0 0'},
};

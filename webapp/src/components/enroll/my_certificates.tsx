import React, {useCallback, useEffect, useState} from 'react';

import {certsAPI, type CertRequest, type Certificate, type Issuance} from '../../client/certs';
import {formatText, t, type MessageId} from '../../i18n';
import {styles} from '../styles';

import {formatDate, shortSerial} from './files';
import {useAction} from './use_action';

// RFC 5280's reasons a holder may give, as the server names them.
const REASONS: Array<{value: string; label: MessageId}> = [
    {value: 'unspecified', label: 'revoke.reason.unspecified'},
    {value: 'keyCompromise', label: 'revoke.reason.keyCompromise'},
    {value: 'affiliationChanged', label: 'revoke.reason.affiliationChanged'},
    {value: 'superseded', label: 'revoke.reason.superseded'},
    {value: 'cessationOfOperation', label: 'revoke.reason.cessationOfOperation'},
];

const OPEN_REQUEST_STATES = ['pending', 'waiting_ca', 'approved'];

interface MyCertificatesProps {
    announce: (message: string) => void;
    onRenew: (certificate: Certificate) => void;
    onCollected: (issued: Issuance) => void;
}

// MyCertificates lists the user's certificates and open requests: revoke
// (with a reason, after a confirmation), renew, collect.
export function MyCertificates({announce, onRenew, onCollected}: MyCertificatesProps) {
    const [certificates, setCertificates] = useState<Certificate[] | null>(null);
    const [requests, setRequests] = useState<CertRequest[]>([]);
    const [revoking, setRevoking] = useState<string>('');
    const {busy, error, setError, run: act} = useAction();

    const load = useCallback(async () => {
        try {
            const [certs, reqs] = await Promise.all([certsAPI.certificates(), certsAPI.requests()]);
            setCertificates(certs);
            setRequests(reqs.filter((r) => OPEN_REQUEST_STATES.includes(r.state)));
        } catch (err) {
            setError((err as Error).message);
        }
    }, [setError]);

    useEffect(() => {
        load();
    }, [load]);

    const revoke = (serial: string, reason: string) => act(async () => {
        const revoked = await certsAPI.revoke(serial, reason);
        setRevoking('');
        announce(formatText(revoked.revocation_pending ? 'certs.revoked_pending' : 'certs.revoked', {serial: shortSerial(serial)}));
        await load();
    });

    const collect = (id: string) => act(async () => {
        const result = await certsAPI.collect(id);
        if ('issued' in result) {
            onCollected(result.issued);
        } else {
            await load();
        }
    });

    const withdraw = (id: string) => act(async () => {
        await certsAPI.cancel(id);
        announce(t('waiting.withdrawn'));
        await load();
    });

    if (!certificates) {
        return error ? <div role='alert' style={styles.error}>{error}</div> : <p role='status'>{t('enroll.loading')}</p>;
    }

    return (
        <div>
            {error && <div role='alert' style={styles.error}>{error}</div>}
            {requests.length > 0 && (
                <section aria-labelledby='certs-requests-heading'>
                    <h3
                        id='certs-requests-heading'
                        style={styles.heading}
                    >
                        {t('certs.requests')}
                    </h3>
                    <ul style={{...styles.list, paddingLeft: 0, listStyle: 'none'}}>
                        {requests.map((r) => (
                            <li
                                key={r.id}
                                style={{...styles.note, display: 'flex', gap: 8, alignItems: 'center', justifyContent: 'space-between', flexWrap: 'wrap'}}
                            >
                                <span>
                                    <code style={styles.code}>{r.id}</code>
                                    {' '}
                                    {formatText('certs.request_line', {profile: r.profile, state: stateWord(r.state)})}
                                </span>
                                {r.state === 'approved' && (
                                    <button
                                        type='button'
                                        style={styles.primaryButton}
                                        disabled={busy}
                                        onClick={() => collect(r.id)}
                                    >
                                        {t('waiting.collect')}
                                    </button>
                                )}
                                {r.state === 'pending' && (
                                    <button
                                        type='button'
                                        style={styles.smallButton}
                                        disabled={busy}
                                        onClick={() => withdraw(r.id)}
                                        aria-label={formatText('certs.withdraw_label', {id: r.id})}
                                    >
                                        {t('waiting.withdraw')}
                                    </button>
                                )}
                            </li>
                        ))}
                    </ul>
                </section>
            )}

            {certificates.length === 0 ? (
                <p style={styles.paragraph}>{t('certs.none')}</p>
            ) : (
                <table style={styles.table}>
                    <caption style={styles.srOnly}>{t('certs.caption')}</caption>
                    <thead>
                        <tr>
                            <th style={styles.th} scope='col'>{t('certs.serial')}</th>
                            <th style={styles.th} scope='col'>{t('certs.profile')}</th>
                            <th style={styles.th} scope='col'>{t('certs.state')}</th>
                            <th style={styles.th} scope='col'>{t('certs.expires')}</th>
                            <th style={styles.th} scope='col'><span style={styles.srOnly}>{t('certs.actions')}</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {certificates.map((c) => (
                            <React.Fragment key={c.serial}>
                                <tr>
                                    <td style={{...styles.td, fontFamily: 'monospace'}} title={c.serial}>{shortSerial(c.serial)}</td>
                                    <td style={styles.td}>{c.profile}</td>
                                    <td style={styles.td}>
                                        <span style={styles.badge}>{stateWord(c.revocation_pending ? 'revoked_pending' : c.state)}</span>
                                    </td>
                                    <td style={styles.td}>{formatDate(c.not_after)}</td>
                                    <td style={{...styles.td, whiteSpace: 'nowrap', textAlign: 'right'}}>
                                        {c.state !== 'revoked' && (
                                            <button
                                                type='button'
                                                style={{...styles.smallButton, marginRight: 4}}
                                                disabled={busy}
                                                onClick={() => onRenew(c)}
                                                aria-label={formatText('certs.renew_label', {serial: shortSerial(c.serial)})}
                                            >
                                                {t('certs.renew')}
                                            </button>
                                        )}
                                        {c.state === 'issued' && (
                                            <button
                                                type='button'
                                                style={styles.smallButton}
                                                disabled={busy}
                                                aria-expanded={revoking === c.serial}
                                                onClick={() => setRevoking(revoking === c.serial ? '' : c.serial)}
                                                aria-label={formatText('certs.revoke_label', {serial: shortSerial(c.serial)})}
                                            >
                                                {t('certs.revoke')}
                                            </button>
                                        )}
                                    </td>
                                </tr>
                                {revoking === c.serial && (
                                    <tr>
                                        <td
                                            colSpan={5}
                                            style={styles.td}
                                        >
                                            <RevokeConfirm
                                                serial={c.serial}
                                                busy={busy}
                                                onConfirm={(reason) => revoke(c.serial, reason)}
                                                onCancel={() => setRevoking('')}
                                            />
                                        </td>
                                    </tr>
                                )}
                            </React.Fragment>
                        ))}
                    </tbody>
                </table>
            )}
        </div>
    );
}

interface RevokeConfirmProps {
    serial: string;
    busy: boolean;
    onConfirm: (reason: string) => void;
    onCancel: () => void;
}

function RevokeConfirm({serial, busy, onConfirm, onCancel}: RevokeConfirmProps) {
    const [reason, setReason] = useState('unspecified');
    const selectID = `certs-revoke-reason-${serial}`;
    return (
        <div
            role='group'
            aria-label={formatText('certs.revoke_label', {serial: shortSerial(serial)})}
        >
            <p style={styles.paragraph}>{formatText('revoke.confirm', {serial: shortSerial(serial)})}</p>
            <label
                htmlFor={selectID}
                style={styles.label}
            >
                {t('revoke.reason')}
            </label>
            <select
                id={selectID}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                style={styles.input}
            >
                {REASONS.map((r) => (
                    <option
                        key={r.value}
                        value={r.value}
                    >
                        {t(r.label)}
                    </option>
                ))}
            </select>
            <div style={styles.actions}>
                <button
                    type='button'
                    style={styles.secondaryButton}
                    onClick={onCancel}
                >
                    {t('revoke.keep')}
                </button>
                <button
                    type='button'
                    style={styles.dangerButton}
                    disabled={busy}
                    onClick={() => onConfirm(reason)}
                >
                    {t('revoke.confirm_button')}
                </button>
            </div>
        </div>
    );
}

const STATE_WORDS: Record<string, MessageId> = {
    issued: 'state.issued',
    expired: 'state.expired',
    revoked: 'state.revoked',
    revoked_pending: 'state.revoked_pending',
    pending: 'state.pending',
    waiting_ca: 'state.waiting_ca',
    approved: 'state.approved',
};

function stateWord(state: string): string {
    return STATE_WORDS[state] ? t(STATE_WORDS[state]) : state;
}

import React, {useState} from 'react';

import {certsAPI, type CertRequest, type EnrollBody, type Issuance, type Profile, type Waiting} from '../../client/certs';
import {formatText, t} from '../../i18n';
import {styles} from '../styles';

import {useAction} from './use_action';

interface WaitingResultProps {
    waiting: Waiting;
    // What the user chose for the file when asking (its format, email).
    options?: EnrollBody;
    profile?: Profile;
    announce: (message: string) => void;
    onIssued: (issued: Issuance) => void;
    onShowCertificates: () => void;
}

// approversText names who decides a profile's requests.
export function approversText(profile?: Profile): string {
    if (profile?.approvers && profile.approvers.length > 0) {
        return profile.approvers.map((a) => `@${a}`).join(', ');
    }
    return t('waiting.system_admins');
}

// WaitingResult is where a request that waits ends: for an approver, or
// for the CA. Once approved, it is collected here or from My certificates.
export function WaitingResult({waiting, options, profile, announce, onIssued, onShowCertificates}: WaitingResultProps) {
    const [request, setRequest] = useState<CertRequest | null>(null);
    const {busy, error, run} = useAction();
    const state = request?.state || waiting.state;

    const check = () => run(async () => {
        const found = (await certsAPI.requests()).find((r) => r.id === waiting.request_id);
        if (!found) {
            throw new Error(t('waiting.gone'));
        }
        setRequest(found);
        announce(formatText('waiting.state_now', {state: found.state}));
    });

    const collect = () => run(async () => {
        const result = await certsAPI.collect(waiting.request_id, options);
        if ('issued' in result) {
            onIssued(result.issued);
            announce(formatText('enroll.announce_issued', {serial: result.issued.serial}));
        } else {
            setRequest({...(request || {id: waiting.request_id, profile: waiting.profile, created_at: ''}), state: result.waiting.state});
        }
    });

    const withdraw = () => run(async () => {
        setRequest(await certsAPI.cancel(waiting.request_id));
        announce(t('waiting.withdrawn'));
    });

    return (
        <div>
            <h3 style={styles.heading}>{t(state === 'approved' ? 'waiting.approved_title' : 'waiting.title')}</h3>
            <p style={styles.paragraph}>{describe(state, profile, request)}</p>
            <p style={styles.paragraph}>
                {t('waiting.request')}
                {' '}
                <code style={styles.code}>{waiting.request_id}</code>
            </p>
            {error && <div role='alert' style={styles.error}>{error}</div>}
            <div style={styles.actions}>
                {state === 'approved' && (
                    <button
                        type='button'
                        style={styles.primaryButton}
                        disabled={busy}
                        onClick={collect}
                    >
                        {t('waiting.collect')}
                    </button>
                )}
                {(state === 'pending' || state === 'waiting_ca') && (
                    <>
                        <button
                            type='button'
                            style={styles.secondaryButton}
                            disabled={busy}
                            onClick={check}
                        >
                            {t('waiting.check')}
                        </button>
                        <button
                            type='button'
                            style={styles.secondaryButton}
                            disabled={busy}
                            onClick={withdraw}
                        >
                            {t('waiting.withdraw')}
                        </button>
                    </>
                )}
                <button
                    type='button'
                    style={styles.secondaryButton}
                    onClick={onShowCertificates}
                >
                    {t('result.my_certificates')}
                </button>
            </div>
        </div>
    );
}

function describe(state: string, profile: Profile | undefined, request: CertRequest | null): string {
    switch (state) {
    case 'pending':
        return formatText('waiting.pending', {approvers: approversText(profile)});
    case 'waiting_ca':
        return t('waiting.waiting_ca');
    case 'approved':
        return t('waiting.approved');
    case 'issued':
        return formatText('waiting.issued', {serial: request?.serial || ''});
    case 'denied':
        return formatText('waiting.denied', {reason: request?.reason || t('waiting.no_reason')});
    default:
        return formatText('waiting.closed', {state});
    }
}

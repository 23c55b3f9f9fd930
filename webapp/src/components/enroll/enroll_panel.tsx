import React, {useEffect, useRef, useState} from 'react';

import {loadBrowserKeys} from '../../browser_keys/load';
import {certsAPI, type EnrollBody, type EnrollResult, type Issuance, type PKCS12Format, type Profile, type Waiting} from '../../client/certs';
import {formatText, t, type MessageId} from '../../i18n';
import {styles} from '../styles';

import {bytesToBase64} from './files';
import {IssuedResult, type BrowserIdentity} from './result';
import {WaitingResult} from './waiting';

export type Way = 'server' | 'csr' | 'browser';

// The key types WebCrypto makes, by the server's names.
const BROWSER_KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

// browserKeyType is the key type a browser makes for profile: the first of
// its accepted types that WebCrypto has, "" for none (or no WebCrypto).
export function browserKeyType(profile: Profile): string {
    if (typeof crypto === 'undefined' || !crypto.subtle) {
        return '';
    }
    return profile.key_types.find((kt) => BROWSER_KEY_TYPES.includes(kt)) || '';
}

// waysFor are the ways profile offers, in the order the modal shows them.
// A key made in the browser lives only in this page: a profile that waits
// for an approver would lose it before the certificate comes.
export function waysFor(profile: Profile): Way[] {
    const ways: Way[] = [];
    if (profile.server_key) {
        ways.push('server');
    }
    ways.push('csr');
    if (profile.attestation !== 'require' && !profile.requires_approval && browserKeyType(profile)) {
        ways.push('browser');
    }
    return ways;
}

const WAY_WORDS: Record<Way, {label: MessageId; detail: MessageId}> = {
    server: {label: 'enroll.way.server', detail: 'enroll.way.server.detail'},
    csr: {label: 'enroll.way.csr', detail: 'enroll.way.csr.detail'},
    browser: {label: 'enroll.way.browser', detail: 'enroll.way.browser.detail'},
};

type Step =
    | {name: 'choose'}
    | {name: 'working'}
    | {name: 'issued'; issued: Issuance; browser?: BrowserIdentity}
    | {name: 'waiting'; waiting: Waiting};

interface EnrollPanelProps {
    // A certificate to renew: its profile is the only one offered.
    renews?: string;
    renewsProfile?: string;
    initialProfile?: string;
    announce: (message: string) => void;
    onShowCertificates: () => void;
}

// EnrollPanel walks a user to a certificate: a profile, a way to make the
// key, then the file, or the request that waits for an approver.
export function EnrollPanel({renews, renewsProfile, initialProfile, announce, onShowCertificates}: EnrollPanelProps) {
    const [profiles, setProfiles] = useState<Profile[] | null>(null);
    const [loadError, setLoadError] = useState('');
    const [profileName, setProfileName] = useState('');
    const [way, setWay] = useState<Way>('server');
    const [csr, setCSR] = useState('');
    const [attestation, setAttestation] = useState('');
    const [email, setEmail] = useState(false);
    const [format, setFormat] = useState<PKCS12Format>('compatible');
    const [step, setStep] = useState<Step>({name: 'choose'});
    const [error, setError] = useState('');
    const errorRef = useRef<HTMLDivElement>(null);

    useEffect(() => {
        let cancelled = false;
        certsAPI.profiles().then((list) => {
            if (cancelled) {
                return;
            }
            const offered = renewsProfile ? list.filter((p) => p.name === renewsProfile) : list;
            setProfiles(offered);
            const wanted = offered.find((p) => p.name === (renewsProfile || initialProfile)) ||
                offered.find((p) => p.default) || offered[0];
            if (wanted) {
                chooseProfile(wanted);
            }
        }, (err: Error) => {
            if (!cancelled) {
                setLoadError(err.message);
            }
        });
        return () => {
            cancelled = true;
        };

        // Loaded once per panel: the modal makes a new panel for each start.
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, []);

    useEffect(() => {
        if (error) {
            errorRef.current?.focus();
        }
    }, [error]);

    const profile = profiles?.find((p) => p.name === profileName);

    function chooseProfile(p: Profile) {
        setProfileName(p.name);
        const ways = waysFor(p);
        setWay((current) => (ways.includes(current) ? current : ways[0]));
        setEmail(p.email === 'default');
        setFormat(p.pkcs12_format || 'compatible');
        setError('');
    }

    if (loadError) {
        return <div role='alert' style={styles.error}>{loadError}</div>;
    }
    if (!profiles) {
        return <p role='status' style={styles.paragraph}>{t('enroll.loading')}</p>;
    }
    if (profiles.length === 0) {
        return (
            <p style={styles.note}>
                {renewsProfile ? formatText('enroll.renew_profile_gone', {profile: renewsProfile}) : t('enroll.no_profiles')}
            </p>
        );
    }

    if (step.name === 'issued') {
        return (
            <IssuedResult
                issued={step.issued}
                browser={step.browser}
                onAnother={() => setStep({name: 'choose'})}
                onShowCertificates={onShowCertificates}
            />
        );
    }
    if (step.name === 'waiting') {
        return (
            <WaitingResult
                waiting={step.waiting}
                options={way === 'server' ? {format, email} : {}}
                profile={profile}
                announce={announce}
                onIssued={(issued) => setStep({name: 'issued', issued})}
                onShowCertificates={onShowCertificates}
            />
        );
    }

    const finish = (result: EnrollResult, browser?: BrowserIdentity) => {
        if ('waiting' in result) {
            setStep({name: 'waiting', waiting: result.waiting});
            announce(t('enroll.announce_waiting'));
            return;
        }
        setStep({name: 'issued', issued: result.issued, browser});
        announce(formatText('enroll.announce_issued', {serial: result.issued.serial}));
    };

    const submit = async (event: React.FormEvent) => {
        event.preventDefault();
        if (!profile) {
            return;
        }
        setError('');
        const base: EnrollBody = renews ? {renews} : {profile: profile.name};
        if (way === 'csr' && !csr.trim()) {
            setError(t('enroll.csr_missing'));
            return;
        }
        if (way === 'csr' && profile.attestation === 'require' && !attestation.trim()) {
            setError(t('enroll.attestation_missing'));
            return;
        }
        setStep({name: 'working'});
        announce(t('enroll.working'));
        try {
            if (way === 'server') {
                finish(await certsAPI.enroll({...base, format, email}));
            } else if (way === 'csr') {
                finish(await certsAPI.enroll({...base, csr, attestation: attestation || undefined}));
            } else {
                await enrollInBrowser(profile, base, format, finish);
            }
        } catch (err) {
            setStep({name: 'choose'});
            setError((err as Error).message || t('enroll.failed'));
        }
    };

    const ways = waysFor(profile || profiles[0]);
    const working = step.name === 'working';

    return (
        <form
            onSubmit={submit}
            aria-busy={working}
        >
            {renews && <p style={styles.note}>{formatText('enroll.renewing', {serial: renews})}</p>}
            <fieldset
                style={styles.fieldset}
                disabled={working}
            >
                <legend style={styles.legend}>{t('enroll.profile')}</legend>
                {profiles.map((p) => (
                    <label
                        key={p.name}
                        style={styles.choice}
                    >
                        <input
                            type='radio'
                            name='profile'
                            value={p.name}
                            checked={p.name === profileName}
                            onChange={() => chooseProfile(p)}
                        />
                        <span>
                            <strong>{p.name}</strong>
                            {p.description && <span>{' — '}{p.description}</span>}
                            <span style={styles.choiceDetail}>
                                {formatText('enroll.profile_detail', {key: keyTypeLabel(p.key_type), days: p.validity_days})}
                                {p.requires_approval && ` · ${approvalLabel(p)}`}
                            </span>
                        </span>
                    </label>
                ))}
            </fieldset>

            <fieldset
                style={styles.fieldset}
                disabled={working}
            >
                <legend style={styles.legend}>{t('enroll.how')}</legend>
                {ways.map((w) => (
                    <label
                        key={w}
                        style={styles.choice}
                    >
                        <input
                            type='radio'
                            name='way'
                            value={w}
                            checked={w === way}
                            onChange={() => setWay(w)}
                        />
                        <span>
                            <strong>{t(WAY_WORDS[w].label)}</strong>
                            <span style={styles.choiceDetail}>
                                {formatText(WAY_WORDS[w].detail, {key: keyTypeLabel(browserKeyType(profile || profiles[0]))})}
                            </span>
                        </span>
                    </label>
                ))}
            </fieldset>

            {way === 'csr' && (
                <CSRFields
                    csr={csr}
                    setCSR={setCSR}
                    attestation={attestation}
                    setAttestation={setAttestation}
                    attestationPolicy={profile?.attestation || 'ignore'}
                    disabled={working}
                />
            )}

            {way !== 'csr' && (
                <div style={{marginBottom: 12}}>
                    <label
                        htmlFor='certs-enroll-format'
                        style={styles.label}
                    >
                        {t('enroll.format')}
                    </label>
                    <select
                        id='certs-enroll-format'
                        value={format}
                        disabled={working}
                        onChange={(e) => setFormat(e.target.value as PKCS12Format)}
                        style={styles.input}
                    >
                        <option value='compatible'>{t('enroll.format.compatible')}</option>
                        <option value='modern'>{t('enroll.format.modern')}</option>
                    </select>
                </div>
            )}

            {way === 'server' && profile && profile.email !== 'off' && (
                <label style={{display: 'flex', gap: 8, alignItems: 'center', marginBottom: 12}}>
                    <input
                        type='checkbox'
                        checked={email}
                        disabled={working}
                        onChange={(e) => setEmail(e.target.checked)}
                    />
                    {t('enroll.email')}
                </label>
            )}

            {error && (
                <div
                    ref={errorRef}
                    role='alert'
                    tabIndex={-1}
                    style={styles.error}
                >
                    {error}
                </div>
            )}

            <div style={styles.actions}>
                <button
                    type='submit'
                    style={styles.primaryButton}
                    disabled={working || !profile}
                >
                    {working ? t('enroll.working') : t(renews ? 'enroll.renew' : 'enroll.create')}
                </button>
            </div>
        </form>
    );
}

// enrollInBrowser makes the key here, has the server sign its CSR, and
// builds the PKCS#12 file here: the key never leaves the page.
async function enrollInBrowser(profile: Profile, base: EnrollBody, format: PKCS12Format,
    finish: (result: EnrollResult, browser?: BrowserIdentity) => void) {
    const keys = await loadBrowserKeys();
    const keyType = browserKeyType(profile);
    if (!keys.isKeyType(keyType)) {
        throw new Error(t('enroll.browser_unsupported'));
    }
    const made = await keys.generateKeyAndCSR({
        keyType,
        commonName: profile.subject.common_name,
        emails: profile.subject.emails,
    });
    const result = await certsAPI.enroll({...base, csr: made.csrPEM});
    if ('waiting' in result) {
        finish(result);
        return;
    }
    const passphrase = keys.newPassphrase();
    const pkcs12 = await keys.buildPKCS12({
        privateKey: made.keys.privateKey,
        certificatePEM: result.issued.certificate_pem,
        passphrase,
        format,
        friendlyName: profile.subject.common_name,
    });
    finish(result, {pkcs12, passphrase});
}

interface CSRFieldsProps {
    csr: string;
    setCSR: (value: string) => void;
    attestation: string;
    setAttestation: (value: string) => void;
    attestationPolicy: string;
    disabled: boolean;
}

function CSRFields({csr, setCSR, attestation, setAttestation, attestationPolicy, disabled}: CSRFieldsProps) {
    return (
        <div style={{marginBottom: 12}}>
            <label
                htmlFor='certs-enroll-csr'
                style={styles.label}
            >
                {t('enroll.csr')}
            </label>
            <textarea
                id='certs-enroll-csr'
                value={csr}
                disabled={disabled}
                placeholder='-----BEGIN CERTIFICATE REQUEST-----'
                onChange={(e) => setCSR(e.target.value)}
                style={styles.textarea}
                spellCheck={false}
            />
            <FileField
                id='certs-enroll-csr-file'
                label={t('enroll.csr_file')}
                disabled={disabled}
                onText={setCSR}
            />
            {attestationPolicy !== 'ignore' && (
                <>
                    <label
                        htmlFor='certs-enroll-attestation'
                        style={{...styles.label, marginTop: 12}}
                    >
                        {t(attestationPolicy === 'require' ? 'enroll.attestation_required' : 'enroll.attestation_optional')}
                    </label>
                    <textarea
                        id='certs-enroll-attestation'
                        value={attestation}
                        disabled={disabled}
                        placeholder='-----BEGIN CERTIFICATE-----'
                        onChange={(e) => setAttestation(e.target.value)}
                        style={{...styles.textarea, minHeight: 80}}
                        spellCheck={false}
                    />
                    <FileField
                        id='certs-enroll-attestation-file'
                        label={t('enroll.attestation_file')}
                        disabled={disabled}
                        onText={setAttestation}
                    />
                </>
            )}
        </div>
    );
}

// FileField reads a chosen file into a text field: PEM as it is, DER as
// base64 (the API takes either).
function FileField({id, label, disabled, onText}: {id: string; label: string; disabled: boolean; onText: (text: string) => void}) {
    const onChange = async (event: React.ChangeEvent<HTMLInputElement>) => {
        const file = event.target.files?.[0];
        if (!file) {
            return;
        }
        const bytes = new Uint8Array(await file.arrayBuffer());
        const text = new TextDecoder().decode(bytes);
        if (text.includes('-----BEGIN')) {
            onText(text);
            return;
        }
        onText(bytesToBase64(bytes));
    };
    return (
        <div style={{marginTop: 6}}>
            <label
                htmlFor={id}
                style={{fontSize: 12, marginRight: 8}}
            >
                {label}
            </label>
            <input
                id={id}
                type='file'
                accept='.csr,.pem,.der,.req,.crt,.cer'
                disabled={disabled}
                onChange={onChange}
            />
        </div>
    );
}

const KEY_TYPE_LABELS: Record<string, string> = {
    'ecdsa-p256': 'ECDSA P-256',
    'ecdsa-p384': 'ECDSA P-384',
    'rsa-2048': 'RSA 2048',
    'rsa-3072': 'RSA 3072',
    'rsa-4096': 'RSA 4096',
    ed25519: 'Ed25519',
};

export function keyTypeLabel(keyType: string): string {
    return KEY_TYPE_LABELS[keyType] || keyType;
}

function approvalLabel(p: Profile): string {
    if (p.approvers && p.approvers.length > 0) {
        return formatText('enroll.needs_approval_by', {approvers: p.approvers.map((a) => `@${a}`).join(', ')});
    }
    return t('enroll.needs_approval');
}

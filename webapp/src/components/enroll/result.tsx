import React, {useState} from 'react';
import {useSelector} from 'react-redux';

import type {Issuance} from '../../client/certs';
import {formatText, t} from '../../i18n';
import {getCAChainURL} from '../../selectors';
import {styles} from '../styles';

import {base64ToBytes, fileBase, formatDate, mobileConfig, saveFile} from './files';
import {InstallHelp} from './install_help';

// A PKCS#12 file made in this page, and its passphrase.
export interface BrowserIdentity {
    pkcs12: Uint8Array;
    passphrase: string;
}

interface IssuedResultProps {
    issued: Issuance;
    browser?: BrowserIdentity;
    onAnother: () => void;
    onShowCertificates: () => void;
}

// commonNameOf reads the CN of a subject as the server writes it
// ("CN=alice,O=Example").
export function commonNameOf(subject: string): string {
    const match = subject.match(/(?:^|,)\s*CN=((?:\\,|[^,])*)/);
    return match ? match[1].replace(/\\,/g, ',') : '';
}

// IssuedResult is the last step: the files, the passphrase once, and how
// to install them.
export function IssuedResult({issued, browser, onAnother, onShowCertificates}: IssuedResultProps) {
    const caChainURL = useSelector(getCAChainURL);
    const commonName = commonNameOf(issued.subject) || 'certificate';
    const base = fileBase(commonName);
    const pkcs12 = browser?.pkcs12 || (issued.pkcs12 ? base64ToBytes(issued.pkcs12) : undefined);
    const passphrase = browser?.passphrase || issued.passphrase;
    const p12Name = issued.filename || `${base}.p12`;

    return (
        <div>
            <h3 style={styles.heading}>{t('result.title')}</h3>
            <dl style={{display: 'grid', gridTemplateColumns: 'max-content 1fr', gap: '4px 12px', margin: '0 0 12px'}}>
                <dt>{t('result.subject')}</dt>
                <dd style={{margin: 0}}>{issued.subject}</dd>
                <dt>{t('result.serial')}</dt>
                <dd style={{margin: 0, fontFamily: 'monospace', wordBreak: 'break-all'}}>{issued.serial}</dd>
                <dt>{t('result.expires')}</dt>
                <dd style={{margin: 0}}>{formatDate(issued.not_after)}</dd>
            </dl>

            {pkcs12 && passphrase && (
                <>
                    <div style={styles.actions}>
                        <button
                            type='button'
                            className='certs-download-p12'
                            style={styles.primaryButton}
                            onClick={() => saveFile(pkcs12, p12Name, 'application/x-pkcs12')}
                        >
                            {formatText('result.download_p12', {file: p12Name})}
                        </button>
                        <button
                            type='button'
                            className='certs-download-mobileconfig'
                            style={styles.secondaryButton}
                            onClick={() => saveFile(mobileConfig({
                                pkcs12,
                                filename: p12Name,
                                displayName: formatText('result.mobileconfig_name', {name: commonName}),
                                organization: window.location.host,
                                serial: issued.serial,
                            }), `${base}.mobileconfig`, 'application/x-apple-aspen-config')}
                        >
                            {t('result.download_mobileconfig')}
                        </button>
                    </div>
                    <Passphrase passphrase={passphrase}/>
                    {browser && <p style={styles.note}>{t('result.browser_key')}</p>}
                </>
            )}

            {!pkcs12 && (
                <>
                    <label
                        htmlFor='certs-result-pem'
                        style={styles.label}
                    >
                        {t('result.pem')}
                    </label>
                    <textarea
                        id='certs-result-pem'
                        readOnly={true}
                        value={issued.certificate_pem}
                        style={styles.textarea}
                    />
                    <div style={styles.actions}>
                        <button
                            type='button'
                            style={styles.primaryButton}
                            onClick={() => saveFile(issued.certificate_pem, `${base}.pem`, 'application/x-pem-file')}
                        >
                            {formatText('result.download_pem', {file: `${base}.pem`})}
                        </button>
                    </div>
                    {issued.attested !== undefined && (
                        <p style={styles.paragraph}>
                            {issued.attested ? formatText('result.attested', {device: issued.device_serial || '?'}) : t('result.not_attested')}
                        </p>
                    )}
                </>
            )}

            {issued.emailed_to && <p style={styles.note}>{formatText('result.emailed', {to: issued.emailed_to})}</p>}
            {issued.email_error && <p style={styles.error}>{formatText('result.email_error', {why: issued.email_error})}</p>}

            <InstallHelp
                caChainURL={caChainURL}
                hasKey={Boolean(pkcs12)}
            />

            <div style={styles.actions}>
                <button
                    type='button'
                    style={styles.secondaryButton}
                    onClick={onShowCertificates}
                >
                    {t('result.my_certificates')}
                </button>
                <button
                    type='button'
                    style={styles.secondaryButton}
                    onClick={onAnother}
                >
                    {t('result.another')}
                </button>
            </div>
        </div>
    );
}

// Passphrase shows the file's passphrase, once, as text, with a copy button.
function Passphrase({passphrase}: {passphrase: string}) {
    const [copied, setCopied] = useState('');
    const copy = async () => {
        try {
            await navigator.clipboard.writeText(passphrase);
            setCopied(t('result.copied'));
        } catch {
            setCopied(t('result.copy_failed'));
        }
    };
    return (
        <div style={{margin: '12px 0'}}>
            <p style={styles.paragraph}>
                <strong>{t('result.passphrase')}</strong>
                {' '}
                {t('result.passphrase_once')}
            </p>
            <div style={styles.passphrase}>
                <code
                    style={styles.passphraseText}
                    data-testid='passphrase'
                >
                    {passphrase}
                </code>
                <button
                    type='button'
                    style={styles.smallButton}
                    onClick={copy}
                >
                    {t('result.copy')}
                </button>
                <span role='status'>{copied}</span>
            </div>
        </div>
    );
}

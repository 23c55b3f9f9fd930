import React from 'react';

import {t, type MessageId} from '../../i18n';
import {styles} from '../styles';

const PLATFORMS: Array<{name: MessageId; steps: MessageId}> = [
    {name: 'install.windows', steps: 'install.windows.steps'},
    {name: 'install.macos', steps: 'install.macos.steps'},
    {name: 'install.ios', steps: 'install.ios.steps'},
    {name: 'install.android', steps: 'install.android.steps'},
    {name: 'install.linux', steps: 'install.linux.steps'},
    {name: 'install.firefox', steps: 'install.firefox.steps'},
];

// InstallHelp says how to install the file on each kind of device, one
// platform open at a time.
export function InstallHelp({caChainURL, hasKey}: {caChainURL: string; hasKey: boolean}) {
    return (
        <section aria-labelledby='certs-install-help'>
            <h3
                id='certs-install-help'
                style={styles.heading}
            >
                {t('install.title')}
            </h3>
            {!hasKey && <p style={styles.paragraph}>{t('install.own_key')}</p>}
            {hasKey && PLATFORMS.map((p) => (
                <details
                    key={p.name}
                    style={styles.details}
                >
                    <summary style={styles.summary}>{t(p.name)}</summary>
                    <p style={{...styles.paragraph, marginTop: 6}}>{t(p.steps)}</p>
                </details>
            ))}
            <p style={{...styles.paragraph, marginTop: 8}}>
                {t('install.ca')}
                {' '}
                <a
                    href={caChainURL}
                    target='_blank'
                    rel='noopener noreferrer'
                    style={styles.link}
                >
                    {t('install.ca_link')}
                </a>
            </p>
        </section>
    );
}

import React, {useCallback, useEffect, useRef} from 'react';
import {useDispatch, useSelector} from 'react-redux';

import {closeInfoModal} from '../actions';
import {formatMessage, t} from '../i18n';
import {id as pluginId} from '../manifest';
import {getCAChainURL, isInfoModalOpen} from '../selectors';

const TITLE_ID = `${pluginId}-info-modal-title`;

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex="-1"])';

// Registered as a root component: always mounted, shows the dialog while the
// plugin's redux state says it is open.
export function InfoModalRoot() {
    const open = useSelector(isInfoModalOpen);
    const caChainURL = useSelector(getCAChainURL);
    const dispatch = useDispatch();
    const close = useCallback(() => dispatch(closeInfoModal()), [dispatch]);

    if (!open) {
        return null;
    }
    return (
        <InfoModal
            caChainURL={caChainURL}
            onClose={close}
        />
    );
}

interface InfoModalProps {
    caChainURL: string;
    onClose: () => void;
}

export function InfoModal({caChainURL, onClose}: InfoModalProps) {
    const dialogRef = useRef<HTMLDivElement>(null);
    const closeButtonRef = useRef<HTMLButtonElement>(null);

    // Read through a ref so that a new onClose does not re-run the effect below,
    // which would move the focus again.
    const onCloseRef = useRef(onClose);
    useEffect(() => {
        onCloseRef.current = onClose;
    }, [onClose]);

    useEffect(() => {
        const previouslyFocused = document.activeElement as HTMLElement | null;
        closeButtonRef.current?.focus();

        // Capture phase on the document: Escape belongs to the dialog while it
        // is open, wherever the focus is, and should not also trigger the host app's
        // own shortcuts.
        const onKeyDown = (event: KeyboardEvent) => {
            if (event.key === 'Escape') {
                event.stopPropagation();
                event.preventDefault();
                onCloseRef.current();
            }
        };
        document.addEventListener('keydown', onKeyDown, true);

        return () => {
            document.removeEventListener('keydown', onKeyDown, true);
            if (previouslyFocused && document.contains(previouslyFocused)) {
                previouslyFocused.focus();
            }
        };
    }, []);

    // Keep Tab and Shift+Tab inside the dialog, as aria-modal promises.
    const trapFocus = (event: React.KeyboardEvent) => {
        if (event.key !== 'Tab' || !dialogRef.current) {
            return;
        }
        const focusable = Array.from(dialogRef.current.querySelectorAll<HTMLElement>(FOCUSABLE));
        if (focusable.length === 0) {
            return;
        }
        const first = focusable[0];
        const last = focusable[focusable.length - 1];
        if (event.shiftKey && (document.activeElement === first || document.activeElement === dialogRef.current)) {
            event.preventDefault();
            last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
            event.preventDefault();
            first.focus();
        }
    };

    // Only a click that starts and ends on the backdrop itself closes the
    // dialog, not one that began as a text selection inside it.
    const mouseDownOnBackdrop = useRef(false);
    const onBackdropMouseDown = (event: React.MouseEvent) => {
        mouseDownOnBackdrop.current = event.target === event.currentTarget;
    };
    const onBackdropClick = (event: React.MouseEvent) => {
        if (mouseDownOnBackdrop.current && event.target === event.currentTarget) {
            onClose();
        }
        mouseDownOnBackdrop.current = false;
    };

    const caChainText = toAbsoluteURL(caChainURL);

    return (
        <div
            style={styles.backdrop}
            onMouseDown={onBackdropMouseDown}
            onClick={onBackdropClick}
        >
            <div
                ref={dialogRef}
                role='dialog'
                aria-modal='true'
                aria-labelledby={TITLE_ID}
                tabIndex={-1}
                style={styles.dialog}
                onKeyDown={trapFocus}
            >
                <div style={styles.header}>
                    <h2
                        id={TITLE_ID}
                        style={styles.title}
                    >
                        {t('info_modal.title')}
                    </h2>
                    <button
                        ref={closeButtonRef}
                        type='button'
                        aria-label={t('info_modal.close')}
                        title={t('info_modal.close')}
                        style={styles.closeButton}
                        onClick={onClose}
                    >
                        <span aria-hidden='true'>{'\u00d7'}</span>
                    </button>
                </div>
                <div style={styles.body}>
                    <p style={styles.paragraph}>
                        {formatMessage('info_modal.intro', {command: <Code>{t('command.root')}</Code>})}
                    </p>

                    <h3 style={styles.heading}>{t('info_modal.get.heading')}</h3>
                    <ol style={styles.list}>
                        <li style={styles.listItem}>
                            {formatMessage('info_modal.get.step_link', {command: <Code>{t('command.download')}</Code>})}
                        </li>
                        <li style={styles.listItem}>{t('info_modal.get.step_download')}</li>
                        <li style={styles.listItem}>{t('info_modal.get.step_passphrase')}</li>
                    </ol>
                    <p style={styles.paragraph}>{t('info_modal.get.email')}</p>
                    <p style={styles.paragraph}>
                        {formatMessage('info_modal.get.own_key', {command: <Code>{t('command.csr')}</Code>})}
                    </p>

                    <h3 style={styles.heading}>{t('info_modal.manage.heading')}</h3>
                    <ul style={styles.list}>
                        <li style={styles.listItem}>
                            {formatMessage('info_modal.manage.list', {command: <Code>{t('command.list')}</Code>})}
                        </li>
                        <li style={styles.listItem}>
                            {formatMessage('info_modal.manage.revoke', {command: <Code>{t('command.revoke')}</Code>})}
                        </li>
                        <li style={styles.listItem}>
                            {formatMessage('info_modal.manage.import', {command: <Code>{t('command.import')}</Code>})}
                        </li>
                        <li style={styles.listItem}>
                            {formatMessage('info_modal.manage.help', {command: <Code>{t('command.help')}</Code>})}
                        </li>
                    </ul>

                    <h3 style={styles.heading}>{t('info_modal.ca.heading')}</h3>
                    <p style={styles.paragraph}>{t('info_modal.ca.body')}</p>
                    <p style={styles.paragraph}>
                        <a
                            href={caChainURL}
                            target='_blank'
                            rel='noopener noreferrer'
                            style={styles.link}
                        >
                            {caChainText}
                        </a>
                    </p>
                </div>
            </div>
        </div>
    );
}

function Code({children}: {children: React.ReactNode}) {
    return <code style={styles.code}>{children}</code>;
}

// Shows a relative link as the full address, which is what a user copies to
// another device.
function toAbsoluteURL(url: string): string {
    try {
        return new URL(url, document.baseURI).href;
    } catch {
        return url;
    }
}

// Inline styles built on the host's theme variables (with light-theme
// fallbacks), so the plugin ships no stylesheet.
const textColor = 'var(--center-channel-color, #3f4350)';
const subtle = (alpha: number) => `rgba(var(--center-channel-color-rgb, 63, 67, 80), ${alpha})`;

const styles = {
    backdrop: {
        position: 'fixed',
        inset: 0,
        zIndex: 1100,
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'center',
        padding: 16,
        background: 'rgba(0, 0, 0, 0.5)',
    },
    dialog: {
        width: '100%',
        maxWidth: 560,
        maxHeight: '90vh',
        display: 'flex',
        flexDirection: 'column',
        background: 'var(--center-channel-bg, #ffffff)',
        color: textColor,
        borderRadius: 8,
        border: `1px solid ${subtle(0.16)}`,
        boxShadow: '0 20px 32px rgba(0, 0, 0, 0.12)',
        outline: 'none',
    },
    header: {
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'space-between',
        gap: 16,
        padding: '20px 24px 12px',
    },
    title: {
        margin: 0,
        fontSize: 20,
        fontWeight: 600,
        lineHeight: '28px',
    },
    closeButton: {
        width: 32,
        height: 32,
        flex: 'none',
        border: 'none',
        borderRadius: 4,
        background: 'transparent',
        color: subtle(0.64),
        fontSize: 24,
        lineHeight: '32px',
        cursor: 'pointer',
    },
    body: {
        overflowY: 'auto',
        padding: '0 24px 24px',
        fontSize: 14,
        lineHeight: '20px',
    },
    heading: {
        margin: '20px 0 8px',
        fontSize: 16,
        fontWeight: 600,
        lineHeight: '24px',
    },
    paragraph: {
        margin: '0 0 8px',
    },
    list: {
        margin: 0,
        paddingLeft: 24,
    },
    listItem: {
        marginBottom: 6,
    },
    code: {
        padding: '1px 4px',
        borderRadius: 4,
        background: subtle(0.08),
        color: textColor,
        fontFamily: 'monospace',
        fontSize: 13,
        whiteSpace: 'nowrap',
    },
    link: {
        color: 'var(--link-color, #1c58d9)',
        wordBreak: 'break-all',
    },
} satisfies Record<string, React.CSSProperties>;

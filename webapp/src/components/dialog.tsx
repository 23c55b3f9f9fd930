import React, {useEffect, useRef} from 'react';

import {t} from '../i18n';

import {styles} from './styles';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

interface DialogProps {
    titleId: string;
    title: React.ReactNode;
    onClose: () => void;
    children: React.ReactNode;
}

// Dialog is the plugin's modal: role=dialog, focus inside it when it opens
// and back where it was when it closes, Escape closes it, Tab stays inside.
export function Dialog({titleId, title, onClose, children}: DialogProps) {
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
        // is open, wherever the focus is, and should not also trigger the host
        // app's own shortcuts.
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
                aria-labelledby={titleId}
                tabIndex={-1}
                style={styles.dialog}
                onKeyDown={trapFocus}
            >
                <div style={styles.header}>
                    <h2
                        id={titleId}
                        style={styles.title}
                    >
                        {title}
                    </h2>
                    <button
                        ref={closeButtonRef}
                        type='button'
                        aria-label={t('modal.close')}
                        title={t('modal.close')}
                        style={styles.closeButton}
                        onClick={onClose}
                    >
                        <span aria-hidden='true'>{'\u00d7'}</span>
                    </button>
                </div>
                {children}
            </div>
        </div>
    );
}

import React, {useCallback, useState} from 'react';
import {useDispatch, useSelector} from 'react-redux';

import {closeEnrollModal, type EnrollModalOptions, type EnrollTab} from '../../actions';
import type {Certificate, Issuance} from '../../client/certs';
import {t} from '../../i18n';
import {id as pluginId} from '../../manifest';
import {getEnrollModal} from '../../selectors';
import {Dialog} from '../dialog';
import {styles} from '../styles';

import {EnrollPanel} from './enroll_panel';
import {MyCertificates} from './my_certificates';
import {IssuedResult} from './result';

const TITLE_ID = `${pluginId}-enroll-modal-title`;

// Registered as a root component: always mounted, shows the modal while the
// plugin's redux state says it is open.
export function EnrollModalRoot() {
    const options = useSelector(getEnrollModal);
    const dispatch = useDispatch();
    const close = useCallback(() => dispatch(closeEnrollModal()), [dispatch]);
    if (!options) {
        return null;
    }
    return (
        <EnrollModal
            options={options}
            onClose={close}
        />
    );
}

// What the enroll tab shows: a new enrollment (or renewal), or a
// certificate just collected from My certificates.
type EnrollView = {renews?: Certificate; collected?: Issuance; key: number};

export function EnrollModal({options, onClose}: {options: EnrollModalOptions; onClose: () => void}) {
    const [tab, setTab] = useState<EnrollTab>(options.tab || 'enroll');
    const [view, setView] = useState<EnrollView>({key: 0});
    const [announcement, setAnnouncement] = useState('');

    const show = (next: EnrollTab) => {
        setTab(next);
        setAnnouncement('');
    };
    const startNew = (over: Partial<EnrollView>) => {
        setView((v) => ({key: v.key + 1, ...over}));
        setTab('enroll');
    };

    const renewsSerial = view.renews?.serial || (view.key === 0 ? options.renews : undefined);

    return (
        <Dialog
            titleId={TITLE_ID}
            title={t('modal.title')}
            onClose={onClose}
        >
            <div
                role='tablist'
                aria-label={t('modal.title')}
                style={styles.tabs}
            >
                {(['enroll', 'certificates'] as EnrollTab[]).map((name) => (
                    <button
                        key={name}
                        type='button'
                        role='tab'
                        id={`${pluginId}-tab-${name}`}
                        aria-selected={tab === name}
                        aria-controls={`${pluginId}-panel-${name}`}
                        tabIndex={tab === name ? 0 : -1}
                        style={{...styles.tab, ...(tab === name ? styles.tabSelected : {})}}
                        onClick={() => show(name)}
                        onKeyDown={(e) => {
                            if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                                show(name === 'enroll' ? 'certificates' : 'enroll');
                            }
                        }}
                    >
                        {t(name === 'enroll' ? 'modal.tab.enroll' : 'modal.tab.certificates')}
                    </button>
                ))}
            </div>
            <div
                role='tabpanel'
                id={`${pluginId}-panel-${tab}`}
                aria-labelledby={`${pluginId}-tab-${tab}`}
                style={{...styles.body, paddingTop: 12}}
            >
                {tab === 'enroll' && view.collected && (
                    <IssuedResult
                        issued={view.collected}
                        onAnother={() => startNew({})}
                        onShowCertificates={() => show('certificates')}
                    />
                )}
                {tab === 'enroll' && !view.collected && (
                    <EnrollPanel
                        key={view.key}
                        renews={renewsSerial}
                        renewsProfile={view.renews?.profile}
                        initialProfile={options.profile}
                        announce={setAnnouncement}
                        onShowCertificates={() => show('certificates')}
                    />
                )}
                {tab === 'certificates' && (
                    <MyCertificates
                        announce={setAnnouncement}
                        onRenew={(c) => startNew({renews: c})}
                        onCollected={(issued) => startNew({collected: issued})}
                    />
                )}
            </div>

            {/* The live region: what just happened, read out wherever the focus is. */}
            <div
                role='status'
                aria-live='polite'
                style={styles.srOnly}
            >
                {announcement}
            </div>
        </Dialog>
    );
}

import {id as pluginId} from './manifest';

// Prefixed with the plugin id: every plugin's actions go through the same store.
export const OPEN_ENROLL_MODAL = `${pluginId}/open_enroll_modal`;
export const CLOSE_ENROLL_MODAL = `${pluginId}/close_enroll_modal`;

export type EnrollTab = 'enroll' | 'certificates';

// What the modal opens on: a tab, and for the enroll tab a profile chosen
// or a certificate to renew.
export interface EnrollModalOptions {
    tab?: EnrollTab;
    profile?: string;
    renews?: string;
}

export function openEnrollModal(options: EnrollModalOptions = {}) {
    return {type: OPEN_ENROLL_MODAL, options};
}

export function closeEnrollModal() {
    return {type: CLOSE_ENROLL_MODAL};
}

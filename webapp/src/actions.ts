import {id as pluginId} from './manifest';

// Prefixed with the plugin id: every plugin's actions go through the same store.
export const OPEN_INFO_MODAL = `${pluginId}/open_info_modal`;
export const CLOSE_INFO_MODAL = `${pluginId}/close_info_modal`;

export function openInfoModal() {
    return {type: OPEN_INFO_MODAL};
}

export function closeInfoModal() {
    return {type: CLOSE_INFO_MODAL};
}

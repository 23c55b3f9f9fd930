import type {EnrollModalOptions} from './actions';
import {id as pluginId} from './manifest';
import type {PluginState} from './reducer';

// The parts of the host's redux state that this plugin reads.
export interface GlobalState {
    entities?: {
        general?: {
            config?: {
                SiteURL?: string;
            };
        };
    };
    [pluginStateKey: string]: unknown;
}

export const pluginStateKey = `plugins-${pluginId}`;

// The enroll modal's options while it is open, null while it is closed.
export function getEnrollModal(state: GlobalState): EnrollModalOptions | null {
    const pluginState = state[pluginStateKey] as PluginState | undefined;
    return pluginState?.enrollModal ?? null;
}

// The configured SiteURL gives absolute links a user can copy to another
// device; window.basename covers a server under a subpath without one; with
// neither, links are relative to the current origin.
export function getSiteURL(state: GlobalState): string {
    const siteURL = state.entities?.general?.config?.SiteURL || window.basename || '';
    return siteURL.replace(/\/+$/, '');
}

export function getPluginURL(state: GlobalState): string {
    return `${getSiteURL(state)}/plugins/${pluginId}`;
}

export function getCAChainURL(state: GlobalState): string {
    return `${getPluginURL(state)}/ca.pem`;
}

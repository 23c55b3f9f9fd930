import {CLOSE_INFO_MODAL, OPEN_INFO_MODAL} from './actions';
import type {Action} from './types/plugin_registry';

export interface PluginState {
    infoModalOpen: boolean;
}

const initialState: PluginState = {
    infoModalOpen: false,
};

// Registered with registry.registerReducer: the host mounts it at `plugins-<plugin id>`.
export default function reducer(state: PluginState = initialState, action: Action): PluginState {
    switch (action.type) {
    case OPEN_INFO_MODAL:
        return state.infoModalOpen ? state : {...state, infoModalOpen: true};
    case CLOSE_INFO_MODAL:
        return state.infoModalOpen ? {...state, infoModalOpen: false} : state;
    default:
        return state;
    }
}

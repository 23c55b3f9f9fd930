import {CLOSE_ENROLL_MODAL, OPEN_ENROLL_MODAL, type EnrollModalOptions} from './actions';
import type {Action} from './types/plugin_registry';

export interface PluginState {
    // The modal's options while it is open, null while it is closed.
    enrollModal: EnrollModalOptions | null;
}

const initialState: PluginState = {
    enrollModal: null,
};

// Registered with registry.registerReducer: the host mounts it at `plugins-<plugin id>`.
export default function reducer(state: PluginState = initialState, action: Action): PluginState {
    switch (action.type) {
    case OPEN_ENROLL_MODAL:
        return {...state, enrollModal: {...((action as {options?: EnrollModalOptions}).options || {})}};
    case CLOSE_ENROLL_MODAL:
        return state.enrollModal ? {...state, enrollModal: null} : state;
    default:
        return state;
    }
}

import {render} from '@testing-library/react';
import React from 'react';
import {Provider} from 'react-redux';
import {legacy_createStore as createStore} from 'redux';

import reducer, {type PluginState} from '../reducer';
import {pluginStateKey, type GlobalState} from '../selectors';
import type {Action} from '../types/plugin_registry';

// A stand-in for the host's store: our reducer mounted where the web app
// mounts plugin reducers, next to a fixed `entities` slice.
export function makeStore(siteURL?: string) {
    const entities: GlobalState['entities'] = {general: {config: siteURL === undefined ? {} : {SiteURL: siteURL}}};
    const rootReducer = (state: GlobalState | undefined, action: Action): GlobalState => ({
        entities,
        [pluginStateKey]: reducer(state?.[pluginStateKey] as PluginState | undefined, action),
    });
    return createStore(rootReducer);
}

export type TestStore = ReturnType<typeof makeStore>;

export function renderWithStore(ui: React.ReactElement, store: TestStore) {
    return render(<Provider store={store}>{ui}</Provider>);
}

import {beforeAll, describe, expect, it, jest} from '@jest/globals';
import {act, render, screen} from '@testing-library/react';
import React from 'react';
import {Provider} from 'react-redux';
import {combineReducers, legacy_createStore as createStore} from 'redux';

import {OPEN_INFO_MODAL} from './actions';
import {InfoModalRoot} from './components/info_modal';
import {ConnectorsAndProfilesSetting} from './components/settings/connectors_and_profiles_setting';
import reducer from './reducer';
import {pluginStateKey} from './selectors';
import type {PluginClass, PluginRegistry, PluginStore} from './types/plugin_registry';

type RegistryMock = {[K in keyof Required<PluginRegistry>]: jest.Mock};

function makeRegistry({withAppBar}: {withAppBar: boolean}): RegistryMock {
    const registry = {
        registerReducer: jest.fn(),
        registerRootComponent: jest.fn(() => 'root-id'),
        registerChannelHeaderButtonAction: jest.fn(() => 'header-id'),
        registerAppBarComponent: jest.fn(() => 'app-bar-id'),
        registerAdminConsoleCustomSetting: jest.fn(),
    };
    if (!withAppBar) {
        delete (registry as Partial<RegistryMock>).registerAppBarComponent;
    }
    return registry;
}

function makeFakeStore() {
    return {dispatch: jest.fn(), getState: jest.fn(() => ({}))};
}

let PluginClassUnderTest: new () => PluginClass;
let registrations: Array<Parameters<Window['registerPlugin']>>;

beforeAll(async () => {
    // index.tsx registers itself with the host as soon as it is loaded.
    // Calls are copied out because jest clears mocks before each test.
    const registerPlugin = jest.fn<Window['registerPlugin']>();
    window.registerPlugin = registerPlugin;
    PluginClassUnderTest = (await import('./index')).default;
    registrations = [...registerPlugin.mock.calls];
});

describe('plugin entry point', () => {
    it('registers itself under the plugin id', () => {
        expect(registrations).toHaveLength(1);
        const [pluginId, plugin] = registrations[0];
        expect(pluginId).toBe('certs');
        expect(plugin).toBeInstanceOf(PluginClassUnderTest);
    });

    it('registers the reducer, the root component and a channel header button', () => {
        const registry = makeRegistry({withAppBar: false});
        const store = makeFakeStore();
        new PluginClassUnderTest().initialize(registry as unknown as PluginRegistry, store);

        expect(registry.registerReducer).toHaveBeenCalledWith(reducer);
        expect(registry.registerRootComponent).toHaveBeenCalledWith(InfoModalRoot);
        expect(registry.registerAdminConsoleCustomSetting).toHaveBeenCalledWith('ConnectorsAndProfiles', ConnectorsAndProfilesSetting, {showTitle: true});

        expect(registry.registerChannelHeaderButtonAction).toHaveBeenCalledTimes(1);
        const [icon, action, dropdownText, tooltipText] = registry.registerChannelHeaderButtonAction.mock.calls[0];
        expect(React.isValidElement(icon)).toBe(true);
        expect(dropdownText).toBe('Client certificates');
        expect(tooltipText).toBe('About client certificates');

        (action as () => void)();
        expect(store.dispatch).toHaveBeenCalledWith({type: OPEN_INFO_MODAL});
    });

    it('adds an App Bar icon that opens the dialog when the host has an App Bar', () => {
        const registry = makeRegistry({withAppBar: true});
        const store = makeFakeStore();
        new PluginClassUnderTest().initialize(registry as unknown as PluginRegistry, store);

        expect(registry.registerAppBarComponent).toHaveBeenCalledTimes(1);
        const [iconUrl, action, tooltipText] = registry.registerAppBarComponent.mock.calls[0];
        expect(iconUrl).toMatch(/^data:image\/svg\+xml;charset=utf-8,%3Csvg/);
        expect(tooltipText).toBe('Client certificates');

        (action as () => void)();
        expect(store.dispatch).toHaveBeenCalledWith({type: OPEN_INFO_MODAL});
    });

    it('opens the dialog end to end: header button, reducer, root component', () => {
        const registry = makeRegistry({withAppBar: false});
        let pluginReducer: typeof reducer | undefined;
        registry.registerReducer.mockImplementation((r) => {
            pluginReducer = r as typeof reducer;
        });

        // Wire things up the way the host does: the registered reducer under
        // plugins-<id>, the root component inside the store's Provider.
        const hostStore = {
            current: undefined as undefined | ReturnType<typeof createStore>,
            dispatch: (action: {type: string}) => hostStore.current?.dispatch(action),
            getState: () => hostStore.current?.getState(),
        };
        new PluginClassUnderTest().initialize(registry as unknown as PluginRegistry, hostStore as PluginStore);
        hostStore.current = createStore(combineReducers({[pluginStateKey]: pluginReducer!}));

        const Root = registry.registerRootComponent.mock.calls[0][0] as React.ComponentType;
        render(<Provider store={hostStore.current}><Root/></Provider>);
        expect(screen.queryByRole('dialog')).toBeNull();

        const openFromHeader = registry.registerChannelHeaderButtonAction.mock.calls[0][1] as () => void;
        act(() => openFromHeader());
        expect(screen.getByRole('dialog', {name: 'About client certificates'})).toBeTruthy();
    });
});

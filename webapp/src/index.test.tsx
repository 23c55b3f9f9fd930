import {beforeAll, describe, expect, it, jest} from '@jest/globals';
import {act, render, screen} from '@testing-library/react';
import React from 'react';
import {Provider} from 'react-redux';
import {combineReducers, legacy_createStore as createStore} from 'redux';

import {OPEN_ENROLL_MODAL} from './actions';
import {EnrollModalRoot} from './components/enroll/enroll_modal';
import {ConnectorsAndProfilesSetting} from './components/settings/connectors_and_profiles_setting';
import reducer from './reducer';
import {pluginStateKey} from './selectors';
import {fakeAPI, vpnProfile} from './test_utils/fake_api';
import type {PluginClass, PluginRegistry, PluginStore, SlashCommandWillBePostedHook, WebSocketMessage} from './types/plugin_registry';

type RegistryMock = {[K in keyof Required<PluginRegistry>]: jest.Mock};

function makeRegistry({withAppBar}: {withAppBar: boolean}): RegistryMock {
    const registry = {
        registerReducer: jest.fn(),
        registerRootComponent: jest.fn(() => 'root-id'),
        registerChannelHeaderButtonAction: jest.fn(() => 'header-id'),
        registerAppBarComponent: jest.fn(() => 'app-bar-id'),
        registerSlashCommandWillBePostedHook: jest.fn(() => 'hook-id'),
        registerWebSocketEventHandler: jest.fn(),
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

function initialized(withAppBar = false) {
    const registry = makeRegistry({withAppBar});
    const store = makeFakeStore();
    new PluginClassUnderTest().initialize(registry as unknown as PluginRegistry, store);
    return {registry, store};
}

describe('plugin entry point', () => {
    it('registers itself under the plugin id', () => {
        expect(registrations).toHaveLength(1);
        const [pluginId, plugin] = registrations[0];
        expect(pluginId).toBe('certs');
        expect(plugin).toBeInstanceOf(PluginClassUnderTest);
    });

    it('registers the reducer, the modal and a channel header button that opens it', () => {
        const {registry, store} = initialized();
        expect(registry.registerReducer).toHaveBeenCalledWith(reducer);
        expect(registry.registerRootComponent).toHaveBeenCalledWith(EnrollModalRoot);
        expect(registry.registerAdminConsoleCustomSetting).toHaveBeenCalledWith('ConnectorsAndProfiles', ConnectorsAndProfilesSetting, {showTitle: true});

        const [icon, action, dropdownText, tooltipText] = registry.registerChannelHeaderButtonAction.mock.calls[0];
        expect(React.isValidElement(icon)).toBe(true);
        expect(dropdownText).toBe('Client certificates');
        expect(tooltipText).toBe('Get a client certificate');
        (action as () => void)();
        expect(store.dispatch).toHaveBeenCalledWith({type: OPEN_ENROLL_MODAL, options: {}});
    });

    it('adds an App Bar icon that opens the modal when the host has an App Bar', () => {
        const {registry, store} = initialized(true);
        const [iconUrl, action, tooltipText] = registry.registerAppBarComponent.mock.calls[0];
        expect(iconUrl).toMatch(/^data:image\/svg\+xml;charset=utf-8,%3Csvg/);
        expect(tooltipText).toBe('Client certificates');
        (action as () => void)();
        expect(store.dispatch).toHaveBeenCalledWith({type: OPEN_ENROLL_MODAL, options: {}});
    });

    it('opens the modal for /cert enroll and sends nothing; every other command goes on unchanged', async () => {
        const {registry, store} = initialized();
        const hook = registry.registerSlashCommandWillBePostedHook.mock.calls[0][0] as SlashCommandWillBePostedHook;
        const args = {channel_id: 'c1', team_id: 't1'};

        expect(await hook('/cert enroll', args)).toEqual({});
        expect(store.dispatch).toHaveBeenLastCalledWith({type: OPEN_ENROLL_MODAL, options: {}});
        expect(await hook('  /CERT Enroll vpn ', args)).toEqual({});
        expect(store.dispatch).toHaveBeenLastCalledWith({type: OPEN_ENROLL_MODAL, options: {profile: 'vpn'}});

        store.dispatch.mockClear();
        for (const message of ['/cert download', '/cert enrollment', '/cert', '/certs enroll', '/cert enroll a b', 'hello /cert enroll']) {
            expect(await hook(message, args)).toEqual({message, args});
        }
        expect(store.dispatch).not.toHaveBeenCalled();
    });

    it('opens the modal on the plugin\'s open_enroll WebSocket event', () => {
        const {registry, store} = initialized();
        const [event, handler] = registry.registerWebSocketEventHandler.mock.calls[0] as [string, (m: WebSocketMessage) => void];
        expect(event).toBe('custom_certs_open_enroll');
        handler({event, data: {renews: 'abc123', tab: 'enroll', extra: 1}});
        expect(store.dispatch).toHaveBeenLastCalledWith({type: OPEN_ENROLL_MODAL, options: {tab: 'enroll', renews: 'abc123', profile: undefined}});
        handler({event, data: {tab: 'certificates'}});
        expect(store.dispatch).toHaveBeenLastCalledWith({type: OPEN_ENROLL_MODAL, options: {tab: 'certificates', profile: undefined, renews: undefined}});
        handler({event, data: {tab: '<script>'}});
        expect(store.dispatch).toHaveBeenLastCalledWith({type: OPEN_ENROLL_MODAL, options: {tab: undefined, profile: undefined, renews: undefined}});
    });

    it('opens the modal end to end: header button, reducer, root component', async () => {
        fakeAPI({'GET /profiles': {status: 200, body: [vpnProfile]}});
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
        expect(screen.getByRole('dialog', {name: 'Client certificates'})).toBeTruthy();
        expect(await screen.findByRole('radio', {name: /vpn/})).toBeTruthy();
    });
});

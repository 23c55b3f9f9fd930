// The Redux store plugins get, shaped like the Mattermost web app's: the
// server's data under `entities`, registrations under `plugins`, the right-hand
// sidebar under `views.rhs`, and each plugin's own reducer at `plugins-<id>`.
import {applyMiddleware, legacy_createStore as createStore, type Middleware, type Reducer, type UnknownAction} from 'redux';

import {themeValues, type ThemeName} from './theme';

export interface User {
    id: string;
    username: string;
    roles: string;
    [key: string]: unknown;
}

export interface Registration {
    id: string;
    pluginId: string;
    [key: string]: unknown;
}

export interface HostState {
    entities: {
        general: {config: Record<string, string>; license: Record<string, string>};
        users: {currentUserId: string; profiles: Record<string, User>};
        teams: {currentTeamId: string; teams: Record<string, unknown>};
        channels: {currentChannelId: string; channels: Record<string, unknown>};
        preferences: {myPreferences: Record<string, unknown>};
    };
    plugins: {
        plugins: Record<string, unknown>;
        components: Record<string, Registration[]>;
        adminConsoleCustomComponents: Record<string, Record<string, Registration>>;
    };
    views: {rhs: {isOpen: boolean; pluginId: string}};
    host: {theme: ThemeName};
    [pluginSlice: string]: unknown;
}

export const ActionTypes = {
    RECEIVED_CONFIG: 'RECEIVED_CONFIG',
    RECEIVED_ME: 'RECEIVED_ME',
    RECEIVED_PROFILE: 'RECEIVED_PROFILE',
    SELECT_TEAM_AND_CHANNEL: 'SELECT_TEAM_AND_CHANNEL',
    RECEIVED_WEBAPP_PLUGIN: 'RECEIVED_WEBAPP_PLUGIN',
    RECEIVED_PLUGIN_COMPONENT: 'RECEIVED_PLUGIN_COMPONENT',
    REMOVED_PLUGIN_COMPONENT: 'REMOVED_PLUGIN_COMPONENT',
    RECEIVED_ADMIN_CONSOLE_CUSTOM_COMPONENT: 'RECEIVED_ADMIN_CONSOLE_CUSTOM_COMPONENT',
    UPDATE_RHS_STATE: 'UPDATE_RHS_STATE',
    SET_THEME: 'HOST_SET_THEME',
    PLUGIN_REDUCERS_CHANGED: 'HOST_PLUGIN_REDUCERS_CHANGED',
} as const;

type AnyAction = UnknownAction & Record<string, unknown>;

function entities(state: HostState['entities'] | undefined, action: AnyAction, theme: ThemeName): HostState['entities'] {
    const s = state || {
        general: {config: {}, license: {}},
        users: {currentUserId: '', profiles: {}},
        teams: {currentTeamId: '', teams: {}},
        channels: {currentChannelId: '', channels: {}},
        preferences: {myPreferences: themePreference(theme)},
    };
    switch (action.type) {
    case ActionTypes.RECEIVED_CONFIG:
        return {...s, general: {config: action.config as Record<string, string>, license: (action.license || {}) as Record<string, string>}};
    case ActionTypes.RECEIVED_ME: {
        const me = action.user as User;
        return {...s, users: {currentUserId: me.id, profiles: {...s.users.profiles, [me.id]: me}}};
    }
    case ActionTypes.RECEIVED_PROFILE: {
        const user = action.user as User;
        return {...s, users: {...s.users, profiles: {...s.users.profiles, [user.id]: user}}};
    }
    case ActionTypes.SELECT_TEAM_AND_CHANNEL: {
        const team = action.team as {id: string};
        const channel = action.channel as {id: string};
        return {
            ...s,
            teams: {currentTeamId: team.id, teams: {...s.teams.teams, [team.id]: team}},
            channels: {currentChannelId: channel.id, channels: {...s.channels.channels, [channel.id]: channel}},
        };
    }
    case ActionTypes.SET_THEME:
        return {...s, preferences: {myPreferences: themePreference(action.theme as ThemeName)}};
    default:
        return s;
    }
}

// The web app keeps the theme as a preference of category "theme".
function themePreference(theme: ThemeName): Record<string, unknown> {
    return {'theme--': {category: 'theme', name: '', value: JSON.stringify(themeValues(theme))}};
}

function plugins(state: HostState['plugins'] | undefined, action: AnyAction): HostState['plugins'] {
    const s = state || {plugins: {}, components: {}, adminConsoleCustomComponents: {}};
    switch (action.type) {
    case ActionTypes.RECEIVED_WEBAPP_PLUGIN: {
        const manifest = action.manifest as {id: string};
        return {...s, plugins: {...s.plugins, [manifest.id]: manifest}};
    }
    case ActionTypes.RECEIVED_PLUGIN_COMPONENT: {
        const name = action.name as string;
        return {...s, components: {...s.components, [name]: [...(s.components[name] || []), action.data as Registration]}};
    }
    case ActionTypes.REMOVED_PLUGIN_COMPONENT: {
        const components: Record<string, Registration[]> = {};
        for (const [name, list] of Object.entries(s.components)) {
            components[name] = list.filter((r) => r.id !== action.id);
        }
        return {...s, components};
    }
    case ActionTypes.RECEIVED_ADMIN_CONSOLE_CUSTOM_COMPONENT: {
        const data = action.data as Registration & {key: string};
        const forPlugin = {...(s.adminConsoleCustomComponents[data.pluginId] || {}), [data.key.toLowerCase()]: data};
        return {...s, adminConsoleCustomComponents: {...s.adminConsoleCustomComponents, [data.pluginId]: forPlugin}};
    }
    default:
        return s;
    }
}

function views(state: HostState['views'] | undefined, action: AnyAction): HostState['views'] {
    const s = state || {rhs: {isOpen: false, pluginId: ''}};
    if (action.type === ActionTypes.UPDATE_RHS_STATE) {
        const pluginId = action.pluginId as string;
        if (action.state === 'plugin') {
            return {rhs: {isOpen: true, pluginId}};
        }
        if (action.state === 'toggle') {
            const open = !(s.rhs.isOpen && s.rhs.pluginId === pluginId);
            return {rhs: {isOpen: open, pluginId: open ? pluginId : ''}};
        }
        if (!action.pluginId || s.rhs.pluginId === pluginId) {
            return {rhs: {isOpen: false, pluginId: ''}};
        }
    }
    return s;
}

function host(state: HostState['host'] | undefined, action: AnyAction, initialTheme: ThemeName): HostState['host'] {
    const s = state || {theme: initialTheme};
    if (action.type === ActionTypes.SET_THEME) {
        return {theme: action.theme as ThemeName};
    }
    return s;
}

// Reducers registered by plugins, by state key (`plugins-<id>`).
const pluginReducers = new Map<string, Reducer>();

export function createHostStore(initialTheme: ThemeName) {
    const rootReducer = (state: HostState | undefined, action: AnyAction): HostState => {
        const h = host(state?.host, action, initialTheme);
        const next: HostState = {
            entities: entities(state?.entities, action, h.theme),
            plugins: plugins(state?.plugins, action),
            views: views(state?.views, action),
            host: h,
        };
        for (const [key, reducer] of pluginReducers) {
            next[key] = reducer(state?.[key], action);
        }
        if (state && Object.keys(next).every((key) => next[key] === state[key]) && Object.keys(state).length === Object.keys(next).length) {
            return state;
        }
        return next;
    };

    // Plugins dispatch thunks, as the web app's store (redux-thunk) allows.
    const thunk: Middleware = (api) => (next) => (action) => {
        if (typeof action === 'function') {
            return action(api.dispatch, api.getState);
        }
        return next(action);
    };

    const store = createStore(rootReducer as Reducer<HostState, AnyAction>, applyMiddleware(thunk));
    const registerPluginReducer = (pluginId: string, reducer: Reducer) => {
        pluginReducers.set(`plugins-${pluginId}`, reducer);
        store.dispatch({type: ActionTypes.PLUGIN_REDUCERS_CHANGED, pluginId});
    };
    return {store, registerPluginReducer};
}

export type HostStore = ReturnType<typeof createHostStore>['store'];

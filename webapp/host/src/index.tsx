// Entry of the host page: gives plugins what the Mattermost 11 web app gives
// them (globals, store, registry), signs in, loads every plugin's web app
// bundle from the server and shows what they registered.
import PropTypes from 'prop-types';
import React from 'react';
import ReactDOM from 'react-dom';
import {createRoot} from 'react-dom/client';
import * as ReactRedux from 'react-redux';
import * as Redux from 'redux';

import {App, type Session} from './app';
import {api, errorText} from './client';
import {createRegistry} from './registry';
import {ActionTypes, createHostStore, type User} from './store';
import {applyTheme, savedTheme} from './theme';
import './host.css';

interface PluginClass {
    initialize?(registry: unknown, store: unknown): void | Promise<void>;
}

interface WebappManifest {
    id: string;
    version?: string;
    webapp?: {bundle_path?: string};
}

// What the web app puts on window for plugins. (The plugin's own sources
// declare window.registerPlugin and window.basename for themselves.)
const host = window as unknown as Record<string, unknown> & {basename: string; registerPlugin(id: string, plugin: PluginClass): void};
host.React = React;
host.ReactDOM = ReactDOM;
host.Redux = Redux;
host.ReactRedux = ReactRedux;
host.PropTypes = PropTypes;
host.basename = '';

const theme = savedTheme();
applyTheme(theme);
const {store, registerPluginReducer} = createHostStore(theme);

const root = createRoot(document.getElementById('root') as HTMLElement);
let session: Session | null = null;
let loadingPlugins = false;
const pluginErrors: string[] = [];

function render() {
    root.render(
        <ReactRedux.Provider store={store}>
            <App
                session={session}
                loadingPlugins={loadingPlugins}
                pluginErrors={[...pluginErrors]}
                onSignIn={signIn}
                onSignOut={signOut}
            />
        </ReactRedux.Provider>,
    );
}

host.registerPlugin = (id: string, plugin: PluginClass) => {
    try {
        const result = plugin.initialize?.(createRegistry(id, store, registerPluginReducer), store);
        Promise.resolve(result).catch((e) => {
            pluginErrors.push(`Plugin ${id} failed to initialize: ${errorText(e)}`);
            render();
        });
    } catch (e) {
        pluginErrors.push(`Plugin ${id} failed to initialize: ${errorText(e)}`);
    }
};

async function signIn(username: string, password: string) {
    await api('POST', '/api/v4/users/login', {login_id: username, password});
    await start();
}

async function signOut() {
    try {
        await api('POST', '/api/v4/users/logout');
    } finally {
        // The readable cookie that says a session exists (see below) goes too.
        document.cookie = `MMUSERID=; Max-Age=0; path=${host.basename || '/'}`;
        // As the web app does: plugins cannot be unloaded, the page starts over.
        window.location.reload();
    }
}

// After sign-in (or with a session already): the user, the client config,
// the first team's town square, then the plugins.
async function start() {
    const me = await api<User>('GET', '/api/v4/users/me');
    const config = await api<Record<string, string>>('GET', '/api/v4/config/client?format=old');
    const license = await api<Record<string, string>>('GET', '/api/v4/license/client?format=old').catch(() => ({}));
    store.dispatch({type: ActionTypes.RECEIVED_CONFIG, config, license});
    store.dispatch({type: ActionTypes.RECEIVED_ME, user: me});
    const teams = await api<Array<{id: string; name: string; display_name: string}>>('GET', '/api/v4/users/me/teams');
    if (teams.length === 0) {
        throw new Error(`${me.username} is not a member of any team`);
    }
    const team = teams[0];
    const channel = await api<Session['channel']>('GET', `/api/v4/teams/${encodeURIComponent(team.id)}/channels/name/town-square`);
    store.dispatch({type: ActionTypes.SELECT_TEAM_AND_CHANNEL, team, channel});
    session = {user: me, team, channel};
    loadingPlugins = true;
    render();
    try {
        await loadPlugins();
    } finally {
        loadingPlugins = false;
        render();
    }
}

// Each plugin's bundle: the file named by its bundle_path, which the server
// serves from its client plugin directory under /static/plugins/<id>/.
async function loadPlugins() {
    const manifests = await api<WebappManifest[]>('GET', '/api/v4/plugins/webapp');
    await Promise.all(manifests.map((manifest) => {
        const bundle = manifest.webapp?.bundle_path;
        if (!bundle) {
            return Promise.resolve();
        }
        store.dispatch({type: ActionTypes.RECEIVED_WEBAPP_PLUGIN, manifest});
        const file = bundle.split('/').pop() as string;
        return new Promise<void>((resolve) => {
            const script = document.createElement('script');
            script.src = `${host.basename}/static/plugins/${encodeURIComponent(manifest.id)}/${encodeURIComponent(file)}`;
            script.onload = () => resolve();
            script.onerror = () => {
                pluginErrors.push(`The web app bundle of plugin ${manifest.id} did not load (${script.src})`);
                resolve();
            };
            document.head.appendChild(script);
        });
    }));
}

render();

// The web app's test for a session: the server sets the readable MMUSERID
// cookie next to the session's own (HttpOnly) one.
if (/(?:^|;\s*)MMUSERID=/.test(document.cookie)) {
    start().catch((e) => {
        // An expired session (401) shows the sign-in form.
        if (!(e && typeof e === 'object' && 'status' in e && e.status === 401)) {
            pluginErrors.push(errorText(e));
        }
        session = null;
        render();
    });
}

import type * as BrowserKeys from './index';

// Loads the browser-keys module and its libraries, a separate chunk of the
// bundle ("browser-keys"), only when the user chooses to make the key in the
// browser: the bundle Mattermost loads on every page stays small. The chunk is
// fetched from the plugin's static files (see public_path.ts).
export function loadBrowserKeys(): Promise<typeof BrowserKeys> {
    return import(/* webpackChunkName: "browser-keys" */ './index');
}

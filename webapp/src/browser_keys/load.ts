// Loads the browser-key library on demand: its own chunk, fetched only when
// a user chooses to make the key in the browser.
export function loadBrowserKeys() {
    return import(/* webpackChunkName: "browser-keys" */ './index');
}

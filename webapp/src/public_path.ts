// Where webpack fetches the bundle's other chunks from (the module that makes
// keys in the browser, see browser_keys/load.ts). Mattermost serves every file
// of the plugin's webapp/dist under <site>/static/plugins/<plugin id>/, below
// window.basename when it runs under a subpath. Set at run time, before any
// import(): index.tsx imports this module first.
import {id} from './manifest';

// A free variable webpack replaces with its runtime's public path.
declare global {
    var __webpack_public_path__: string;
}

export function pluginStaticPath(basename: string | undefined): string {
    return `${(basename ?? '').replace(/\/+$/, '')}/static/plugins/${id}/`;
}

__webpack_public_path__ = pluginStaticPath(window.basename);

import {afterEach, describe, expect, it, jest} from '@jest/globals';

import {id} from './manifest';

describe('public_path', () => {
    afterEach(() => {
        delete window.basename;
    });

    it('points webpack at the plugin\'s static files, below the site\'s subpath', async () => {
        window.basename = '/chat/';
        await jest.isolateModulesAsync(async () => {
            await import('./public_path');
        });
        expect(globalThis.__webpack_public_path__).toBe(`/chat/static/plugins/${id}/`);
    });

    it('at the site\'s root without a subpath', async () => {
        const {pluginStaticPath} = await import('./public_path');
        expect(pluginStaticPath(undefined)).toBe(`/static/plugins/${id}/`);
        expect(pluginStaticPath('')).toBe(`/static/plugins/${id}/`);
        expect(pluginStaticPath('/mm')).toBe(`/mm/static/plugins/${id}/`);
    });
});

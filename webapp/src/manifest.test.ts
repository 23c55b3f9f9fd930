import {describe, expect, it} from '@jest/globals';

import pluginJSON from '../../plugin.json';

import manifest, {id, version} from './manifest';

// src/manifest.ts is generated; this catches a stale file or one whose
// escaping mangled plugin.json (it holds backticks, for example).
describe('generated manifest', () => {
    it('matches plugin.json', () => {
        expect(id).toBe(pluginJSON.id);
        expect(version).toBe(pluginJSON.version);
        expect(manifest.name).toBe(pluginJSON.name);
        expect(manifest.settings_schema.header).toBe(pluginJSON.settings_schema.header);
    });
});

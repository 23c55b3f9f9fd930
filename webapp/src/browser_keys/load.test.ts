/**
 * @jest-environment node
 */
import {describe, expect, it} from '@jest/globals';

import {loadBrowserKeys} from './load';

describe('loadBrowserKeys', () => {
    it('resolves to the module', async () => {
        const m = await loadBrowserKeys();
        expect(typeof m.generateKeyAndCSR).toBe('function');
        expect(typeof m.buildPKCS12).toBe('function');
        expect(m.newPassphrase()).toMatch(/^[2-9a-z]{5}(-[2-9a-z]{5}){5}$/);
    });
});

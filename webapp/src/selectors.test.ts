import {afterEach, describe, expect, it} from '@jest/globals';

import {getCAChainURL, getSiteURL, isInfoModalOpen, pluginStateKey} from './selectors';

function stateWithSiteURL(SiteURL?: string) {
    return {entities: {general: {config: {SiteURL}}}};
}

describe('selectors', () => {
    afterEach(() => {
        delete window.basename;
    });

    it('reads the info modal flag from the plugin slice', () => {
        expect(pluginStateKey).toBe('plugins-certs');
        expect(isInfoModalOpen({})).toBe(false);
        expect(isInfoModalOpen({[pluginStateKey]: {infoModalOpen: true}})).toBe(true);
    });

    it('prefers the configured SiteURL, without a trailing slash', () => {
        window.basename = '/ignored';
        expect(getSiteURL(stateWithSiteURL('https://chat.example.com/'))).toBe('https://chat.example.com');
        expect(getCAChainURL(stateWithSiteURL('https://chat.example.com/mm'))).toBe('https://chat.example.com/mm/plugins/certs/ca.pem');
    });

    it('falls back to window.basename when SiteURL is not set', () => {
        window.basename = '/mattermost';
        expect(getCAChainURL(stateWithSiteURL(''))).toBe('/mattermost/plugins/certs/ca.pem');
    });

    it('falls back to a relative URL', () => {
        expect(getCAChainURL({})).toBe('/plugins/certs/ca.pem');
    });
});

import {afterEach, describe, expect, it} from '@jest/globals';

import {getCAChainURL, getEnrollModal, getSiteURL, pluginStateKey} from './selectors';

function stateWithSiteURL(SiteURL?: string) {
    return {entities: {general: {config: {SiteURL}}}};
}

describe('selectors', () => {
    afterEach(() => {
        delete window.basename;
    });

    it('reads the modal from the plugin slice', () => {
        expect(pluginStateKey).toBe('plugins-certs');
        expect(getEnrollModal({})).toBeNull();
        expect(getEnrollModal({[pluginStateKey]: {enrollModal: {tab: 'certificates'}}})).toEqual({tab: 'certificates'});
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

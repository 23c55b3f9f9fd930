import {describe, expect, it} from '@jest/globals';

import {closeInfoModal, openInfoModal} from './actions';
import reducer from './reducer';

describe('reducer', () => {
    it('starts with the info modal closed', () => {
        expect(reducer(undefined, {type: '@@INIT'})).toEqual({infoModalOpen: false});
    });

    it('opens and closes the info modal', () => {
        const opened = reducer(undefined, openInfoModal());
        expect(opened.infoModalOpen).toBe(true);
        expect(reducer(opened, closeInfoModal()).infoModalOpen).toBe(false);
    });

    it('keeps the same state object when nothing changes', () => {
        const closed = reducer(undefined, {type: '@@INIT'});
        expect(reducer(closed, closeInfoModal())).toBe(closed);
        expect(reducer(closed, {type: 'some/other_action'})).toBe(closed);

        const opened = reducer(closed, openInfoModal());
        expect(reducer(opened, openInfoModal())).toBe(opened);
    });

    it('uses action types namespaced by the plugin id', () => {
        expect(openInfoModal().type).toBe('certs/open_info_modal');
        expect(closeInfoModal().type).toBe('certs/close_info_modal');
    });
});

import {describe, expect, it} from '@jest/globals';

import {closeEnrollModal, openEnrollModal} from './actions';
import reducer from './reducer';

describe('reducer', () => {
    it('starts with the modal closed', () => {
        expect(reducer(undefined, {type: '@@INIT'})).toEqual({enrollModal: null});
    });

    it('opens the modal with its options and closes it', () => {
        const opened = reducer(undefined, openEnrollModal({tab: 'certificates'}));
        expect(opened.enrollModal).toEqual({tab: 'certificates'});
        expect(reducer(opened, openEnrollModal()).enrollModal).toEqual({});
        expect(reducer(opened, closeEnrollModal()).enrollModal).toBeNull();
    });

    it('keeps the same state object when nothing changes', () => {
        const closed = reducer(undefined, {type: '@@INIT'});
        expect(reducer(closed, closeEnrollModal())).toBe(closed);
        expect(reducer(closed, {type: 'some/other_action'})).toBe(closed);
    });

    it('uses action types namespaced by the plugin id', () => {
        expect(openEnrollModal().type).toBe('certs/open_enroll_modal');
        expect(closeEnrollModal().type).toBe('certs/close_enroll_modal');
    });
});

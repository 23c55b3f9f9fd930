import {describe, expect, it} from '@jest/globals';
import {act, fireEvent, screen} from '@testing-library/react';
import React from 'react';

import {openInfoModal} from '../actions';
import {isInfoModalOpen} from '../selectors';
import {makeStore, renderWithStore} from '../test_utils/store';

import {InfoModalRoot} from './info_modal';

function renderOpen(siteURL?: string) {
    const store = makeStore(siteURL);
    store.dispatch(openInfoModal());
    renderWithStore(<InfoModalRoot/>, store);
    return store;
}

describe('InfoModalRoot', () => {
    it('renders nothing while closed', () => {
        const store = makeStore('https://chat.example.com');
        const {container} = renderWithStore(<InfoModalRoot/>, store);
        expect(container.innerHTML).toBe('');

        act(() => {
            store.dispatch(openInfoModal());
        });
        expect(screen.getByRole('dialog')).toBeTruthy();
    });

    it('is an accessible dialog named by its title', () => {
        renderOpen();
        const dialog = screen.getByRole('dialog', {name: 'About client certificates'});
        expect(dialog.getAttribute('aria-modal')).toBe('true');
        expect(screen.getByRole('heading', {level: 2}).textContent).toBe('About client certificates');
    });

    it('explains every /cert command, as text', () => {
        renderOpen();
        const commands = screen.getAllByText((_, element) => element?.tagName === 'CODE').map((code) => code.textContent);
        expect(commands).toEqual(['/cert', '/cert download', '/cert csr', '/cert list', '/cert revoke <serial>', '/cert import', '/cert help']);
        expect(screen.getByText(/PKCS#12/)).toBeTruthy();
        expect(screen.getByText(/passphrase .* shown only once/)).toBeTruthy();
    });

    it('links to the CA chain under the configured SiteURL', () => {
        renderOpen('https://chat.example.com/');
        const link = screen.getByRole('link', {name: 'https://chat.example.com/plugins/certs/ca.pem'});
        expect(link.getAttribute('href')).toBe('https://chat.example.com/plugins/certs/ca.pem');
        expect(link.getAttribute('rel')).toBe('noopener noreferrer');
    });

    it('shows a relative CA chain link as a full address', () => {
        renderOpen();
        const link = screen.getByRole('link');
        expect(link.getAttribute('href')).toBe('/plugins/certs/ca.pem');
        expect(link.textContent).toBe('http://localhost:8065/plugins/certs/ca.pem');
    });

    it('closes on Escape, wherever the focus is', () => {
        const store = renderOpen();
        fireEvent.keyDown(document.body, {key: 'Escape'});
        expect(isInfoModalOpen(store.getState())).toBe(false);
        expect(screen.queryByRole('dialog')).toBeNull();
    });

    it('does not let Escape reach the host app while open', () => {
        renderOpen();
        let hostSawEscape = false;
        const hostListener = () => {
            hostSawEscape = true;
        };
        document.addEventListener('keydown', hostListener);
        try {
            fireEvent.keyDown(document.body, {key: 'Escape'});
        } finally {
            document.removeEventListener('keydown', hostListener);
        }
        expect(hostSawEscape).toBe(false);
    });

    it('closes with the close button', () => {
        const store = renderOpen();
        fireEvent.click(screen.getByRole('button', {name: 'Close'}));
        expect(isInfoModalOpen(store.getState())).toBe(false);
        expect(screen.queryByRole('dialog')).toBeNull();
    });

    it('closes on a click on the backdrop, not inside the dialog', () => {
        const store = renderOpen();
        const dialog = screen.getByRole('dialog');
        fireEvent.mouseDown(dialog);
        fireEvent.click(dialog);
        expect(isInfoModalOpen(store.getState())).toBe(true);

        const backdrop = dialog.parentElement as HTMLElement;
        fireEvent.mouseDown(backdrop);
        fireEvent.click(backdrop);
        expect(isInfoModalOpen(store.getState())).toBe(false);
    });

    it('moves the focus in, keeps Tab inside and gives the focus back on close', () => {
        const opener = document.createElement('button');
        document.body.appendChild(opener);
        opener.focus();

        const store = makeStore();
        renderWithStore(<InfoModalRoot/>, store);
        act(() => {
            store.dispatch(openInfoModal());
        });

        const closeButton = screen.getByRole('button', {name: 'Close'});
        const link = screen.getByRole('link');
        expect(document.activeElement).toBe(closeButton);

        fireEvent.keyDown(closeButton, {key: 'Tab', shiftKey: true});
        expect(document.activeElement).toBe(link);
        fireEvent.keyDown(link, {key: 'Tab'});
        expect(document.activeElement).toBe(closeButton);

        fireEvent.keyDown(document.body, {key: 'Escape'});
        expect(document.activeElement).toBe(opener);
        opener.remove();
    });
});

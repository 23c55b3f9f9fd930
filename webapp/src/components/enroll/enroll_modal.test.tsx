import {afterEach, beforeEach, describe, expect, it, jest} from '@jest/globals';
import {screen, waitFor, within} from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import {makeStore, renderWithStore} from '../../test_utils/store';
import {fakeAPI, issuance, secureProfile, vpnProfile} from '../../test_utils/fake_api';

import {EnrollModal} from './enroll_modal';

const generated: unknown[] = [];

jest.mock('../../browser_keys/load', () => ({
    loadBrowserKeys: async () => ({
        isKeyType: () => true,
        generateKeyAndCSR: async (options: unknown) => {
            generated.push(options);
            return {keys: {privateKey: 'PRIVATE-KEY-OBJECT'}, csrPEM: '-----BEGIN CERTIFICATE REQUEST-----\nBROWSER\n-----END CERTIFICATE REQUEST-----\n'};
        },
        newPassphrase: () => 'browser-made-passphrase',
        buildPKCS12: async () => new Uint8Array([1, 2, 3]),
    }),
}));

const certificates = [
    {serial: 'aaaabbbbccccddddeeeeffff00001111', subject: 'CN=alice', not_after: '2027-02-01T00:00:00Z', state: 'issued', profile: 'vpn', key_type: 'ecdsa-p256'},
    {serial: '99998888777766665555444433332222', subject: 'CN=alice', not_after: '2026-01-01T00:00:00Z', state: 'revoked', profile: 'vpn', key_type: 'ecdsa-p256'},
];

function renderModal(options = {}) {
    const onClose = jest.fn();
    renderWithStore(
        <EnrollModal
            options={options}
            onClose={onClose}
        />,
        makeStore('https://chat.example.com'),
    );
    return {onClose};
}

beforeEach(() => {
    Object.defineProperty(globalThis, 'crypto', {value: {subtle: {}, getRandomValues: (a: Uint8Array) => a}, configurable: true});
    URL.createObjectURL = jest.fn(() => 'blob:x') as unknown as typeof URL.createObjectURL;
    URL.revokeObjectURL = jest.fn();
});

afterEach(() => {
    document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

describe('the enroll modal', () => {
    it('is a labelled dialog with the focus inside; Escape closes it', async () => {
        fakeAPI({'GET /profiles': {status: 200, body: [vpnProfile]}});
        const {onClose} = renderModal();
        const dialog = screen.getByRole('dialog', {name: 'Client certificates'});
        expect(dialog.contains(document.activeElement)).toBe(true);
        await screen.findByRole('radio', {name: /vpn/});
        await userEvent.keyboard('{Escape}');
        expect(onClose).toHaveBeenCalled();
    });

    it('lists the profiles by name and description, with key type and lifetime, and the three ways', async () => {
        fakeAPI({'GET /profiles': {status: 200, body: [vpnProfile, secureProfile]}});
        renderModal();
        const vpn = await screen.findByRole('radio', {name: /vpn/});
        expect((vpn as HTMLInputElement).checked).toBe(true);
        expect(screen.getAllByText(/ECDSA P-256 key · valid 30 days/)).toHaveLength(2);
        expect(screen.getByText(/needs approval by @bob/)).toBeTruthy();
        expect(screen.getByRole('radio', {name: /Create it for me/})).toBeTruthy();
        expect(screen.getByRole('radio', {name: /Use my own key/})).toBeTruthy();
        expect(screen.getByRole('radio', {name: /Make the key in my browser/})).toBeTruthy();

        // A key made in the browser would be lost while an approver decides.
        await userEvent.click(screen.getByRole('radio', {name: /secure/}));
        expect(screen.queryByRole('radio', {name: /Make the key in my browser/})).toBeNull();
    });

    it('says so when no profile is offered', async () => {
        fakeAPI({'GET /profiles': {status: 200, body: []}});
        renderModal();
        expect(await screen.findByText(/No certificate profile is offered/)).toBeTruthy();
    });

    it('creates a certificate with a key the server makes: the file, the passphrase once, the expiry, install help', async () => {
        document.cookie = 'MMCSRF=csrf-token-1';
        const api = fakeAPI({'GET /profiles': {status: 200, body: [vpnProfile]}, 'POST /enrollments': {status: 201, body: issuance}});
        renderModal();
        await screen.findByRole('radio', {name: /vpn/});
        await userEvent.click(screen.getByRole('checkbox', {name: 'Also email me the file'}));
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));

        expect(await screen.findByRole('heading', {name: 'Your certificate is ready'})).toBeTruthy();
        const post = api.sent.find((s) => s.method === 'POST')!;
        expect(post.body).toEqual({profile: 'vpn', format: 'compatible', email: true});
        expect(post.headers['X-CSRF-Token']).toBe('csrf-token-1');
        expect(post.headers['X-Requested-With']).toBe('XMLHttpRequest');
        expect(screen.getByTestId('passphrase').textContent).toBe('correct-horse-battery');
        expect(screen.getByText(/January 6, 2027|6 January 2027/)).toBeTruthy();
        expect(screen.getByRole('button', {name: 'Download alice.p12'})).toBeTruthy();
        expect(screen.getByRole('button', {name: /mobileconfig/})).toBeTruthy();
        for (const platform of ['Windows', 'macOS', 'iPhone and iPad', 'Android', 'Linux', 'Firefox']) {
            expect(screen.getByText(platform)).toBeTruthy();
        }
        await waitFor(() => expect(screen.getAllByRole('status').some((s) => s.textContent?.includes('is ready'))).toBe(true));

        await userEvent.click(screen.getByRole('button', {name: 'Download alice.p12'}));
        expect(URL.createObjectURL).toHaveBeenCalled();
    });

    it('signs a CSR the user pastes, and refuses an empty one before asking the server', async () => {
        const api = fakeAPI({
            'GET /profiles': {status: 200, body: [vpnProfile]},
            'POST /enrollments': {status: 201, body: {...issuance, pkcs12: undefined, passphrase: undefined, filename: undefined, attested: false}},
        });
        renderModal();
        await screen.findByRole('radio', {name: /vpn/});
        await userEvent.click(screen.getByRole('radio', {name: /Use my own key/}));
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));
        expect((await screen.findByRole('alert')).textContent).toMatch(/Paste a certificate signing request/);
        expect(api.sent.filter((s) => s.method === 'POST')).toHaveLength(0);

        await userEvent.type(screen.getByLabelText('Certificate signing request (PEM)'), 'CSR-PEM');
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));
        expect(await screen.findByLabelText('Your certificate and its chain (PEM)')).toBeTruthy();
        expect(api.sent.find((s) => s.method === 'POST')!.body).toEqual({profile: 'vpn', csr: 'CSR-PEM'});
        expect(screen.getByRole('button', {name: 'Download alice.pem'})).toBeTruthy();
        expect(screen.queryByTestId('passphrase')).toBeNull();
    });

    it('shows the server\'s own words when it refuses, and keeps the form', async () => {
        fakeAPI({
            'GET /profiles': {status: 200, body: [vpnProfile]},
            'POST /enrollments': {status: 503, body: {error: 'The certificate authority is not answering; try again in a minute.'}},
        });
        renderModal();
        await screen.findByRole('radio', {name: /vpn/});
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));
        expect((await screen.findByRole('alert')).textContent).toBe('The certificate authority is not answering; try again in a minute.');
        expect(screen.getByRole('button', {name: 'Create'})).toBeTruthy();
    });

    it('makes the key in the browser: only the CSR goes to the server, the file is made here', async () => {
        const api = fakeAPI({'GET /profiles': {status: 200, body: [vpnProfile]}, 'POST /enrollments': {status: 201, body: {...issuance, pkcs12: undefined, passphrase: undefined, filename: undefined}}});
        renderModal();
        await screen.findByRole('radio', {name: /vpn/});
        await userEvent.click(screen.getByRole('radio', {name: /Make the key in my browser/}));
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));
        expect(await screen.findByText(/neither was sent to the server/)).toBeTruthy();
        expect(screen.getByTestId('passphrase').textContent).toBe('browser-made-passphrase');
        const posts = api.sent.filter((s) => s.method === 'POST');
        expect(posts).toHaveLength(1);
        expect(posts[0].body).toEqual({profile: 'vpn', csr: expect.stringContaining('BROWSER')});
        expect(JSON.stringify(posts[0].body)).not.toMatch(/PRIVATE|passphrase/);
        expect(generated).toEqual([{keyType: 'ecdsa-p256', commonName: 'alice', emails: ['alice@example.com']}]);
    });

    it('ends on waiting for the approvers, then collects the approved request', async () => {
        let state = 'pending';
        const api = fakeAPI({
            'GET /profiles': {status: 200, body: [secureProfile]},
            'POST /enrollments': {status: 202, body: {request_id: 'r-abc', state: 'pending', profile: 'secure'}},
            'GET /requests': () => ({status: 200, body: [{id: 'r-abc', profile: 'secure', state, created_at: ''}]}),
            'POST /requests/r-abc/collect': {status: 201, body: issuance},
        });
        renderModal();
        await screen.findByRole('radio', {name: /secure/});
        await userEvent.selectOptions(screen.getByLabelText('File format'), 'modern');
        await userEvent.click(screen.getByRole('checkbox', {name: 'Also email me the file'}));
        await userEvent.click(screen.getByRole('button', {name: 'Create'}));
        expect(await screen.findByText(/waits for approval by @bob/)).toBeTruthy();

        await userEvent.click(screen.getByRole('button', {name: 'Check again'}));
        await waitFor(() => expect(api.sent.some((s) => s.path === '/requests')).toBe(true));
        expect(screen.queryByRole('button', {name: 'Collect'})).toBeNull();

        state = 'approved';
        await userEvent.click(screen.getByRole('button', {name: 'Check again'}));
        await userEvent.click(await screen.findByRole('button', {name: 'Collect'}));
        expect(await screen.findByRole('heading', {name: 'Your certificate is ready'})).toBeTruthy();
        const collected = api.sent.find((s) => s.path === '/requests/r-abc/collect')!;
        expect(collected.method).toBe('POST');
        // The file as the user asked for it before the approval.
        expect(collected.body).toEqual({format: 'modern', email: true});
    });
});

describe('My certificates', () => {
    it('lists serials, states in a word and expiry dates; revokes with a reason after a confirmation', async () => {
        const api = fakeAPI({
            'GET /certificates': {status: 200, body: certificates},
            'GET /requests': {status: 200, body: [{id: 'r-1', profile: 'secure', state: 'approved', created_at: ''}]},
            'POST /certificates/aaaabbbbccccddddeeeeffff00001111/revoke': {status: 200, body: {...certificates[0], state: 'revoked'}},
        });
        renderModal({tab: 'certificates'});
        expect(screen.getByRole('tab', {name: 'My certificates'}).getAttribute('aria-selected')).toBe('true');
        const table = await screen.findByRole('table', {name: 'Your certificates'});
        const rows = within(table).getAllByRole('row');
        expect(rows[1].textContent).toContain('…ffff00001111');
        expect(rows[1].textContent).toContain('valid');
        expect(rows[1].textContent).toMatch(/February 1, 2027|1 February 2027/);
        expect(rows[2].textContent).toContain('revoked');
        expect(screen.getByRole('button', {name: 'Collect'})).toBeTruthy();

        await userEvent.click(screen.getByRole('button', {name: 'Revoke certificate …ffff00001111'}));
        expect(api.sent.filter((s) => s.method === 'POST')).toHaveLength(0);
        await userEvent.selectOptions(screen.getByLabelText('Reason'), 'keyCompromise');
        await userEvent.click(screen.getByRole('button', {name: 'Revoke certificate'}));
        await waitFor(() => expect(api.sent.find((s) => s.method === 'POST')?.body).toEqual({reason: 'keyCompromise'}));
        await waitFor(() => expect(screen.getAllByRole('status').some((s) => s.textContent?.includes('is revoked'))).toBe(true));
    });

    it('renews a certificate: same profile, a new key, in one call', async () => {
        const api = fakeAPI({
            'GET /certificates': {status: 200, body: certificates},
            'GET /requests': {status: 200, body: []},
            'GET /profiles': {status: 200, body: [vpnProfile, secureProfile]},
            'POST /enrollments': {status: 201, body: issuance},
        });
        renderModal({tab: 'certificates'});
        await userEvent.click(await screen.findByRole('button', {name: 'Renew certificate …ffff00001111'}));
        expect(await screen.findByText(/Renewing aaaabbbbccccddddeeeeffff00001111/)).toBeTruthy();
        expect(screen.queryByRole('radio', {name: /secure/})).toBeNull();
        await userEvent.click(screen.getByRole('button', {name: 'Renew'}));
        await screen.findByRole('heading', {name: 'Your certificate is ready'});
        expect(api.sent.find((s) => s.method === 'POST')!.body).toEqual({renews: 'aaaabbbbccccddddeeeeffff00001111', format: 'compatible', email: false});
    });
});

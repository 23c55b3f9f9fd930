import {afterEach, beforeEach, describe, expect, it, jest} from '@jest/globals';
import {act, render, screen, within} from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import type {AdminConsoleCustomSettingProps} from '../../types/plugin_registry';

import {CHECK_DELAY_MS, ConnectorsAndProfilesSetting} from './connectors_and_profiles_setting';

const FINGERPRINT = 'c84d6a1e6b2cf5d7f6a0d3c1b5e4f3a2918273645546372819a0b1c2d3e4f5a6';
const MARKER = 'sealed:k3y1d';

const STORED = JSON.stringify({
    connectors: [
        {name: 'local', type: 'builtin'},
        {name: 'corp', type: 'stepca', stepca: {url: 'https://ca.example.com:9000', root_fingerprint: FINGERPRINT, provisioner: 'mattermost', provisioner_password: MARKER, timeout_seconds: 10}},
    ],
    profiles: [
        {name: 'vpn', description: 'VPN access', connector: 'local', validity_days: 90, key_types: ['ecdsa-p256', 'rsa-2048']},
        {name: 'smime', connector: 'corp', ext_key_usages: ['emailProtection'], subject: {common_name: 'email', organization: ['Example']},
            access: {teams: ['engineering']}, requires_approval: true, approvers: ['carol', 'dave'], approvals_required: 2,
            limits: {active: 2}, renewal: {overlap_days: 14, skip_approval: true}},
    ],
    default_profile: 'vpn',
}, null, 2);

type FetchMock = jest.Mock<(input: string, init?: RequestInit) => Promise<{ok: boolean; status: number; statusText: string; text: () => Promise<string>}>>;

function respond(status: number, body: unknown) {
    return Promise.resolve({ok: status >= 200 && status < 300, status, statusText: '', text: () => Promise.resolve(JSON.stringify(body))});
}

let fetchMock: FetchMock;

beforeEach(() => {
    fetchMock = jest.fn(() => respond(200, {problems: []})) as unknown as FetchMock;
    (globalThis as {fetch?: unknown}).fetch = fetchMock;
});

afterEach(() => {
    jest.useRealTimers();
});

function setup(value: unknown = STORED, extra: Partial<Pick<AdminConsoleCustomSettingProps, 'disabled' | 'setByEnv'>> = {}) {
    const props = {
        id: 'ConnectorsAndProfiles',
        label: 'Connectors and profiles',
        helpText: null,
        value,
        disabled: false,
        setByEnv: false,
        onChange: jest.fn(),
        setSaveNeeded: jest.fn(),
        registerSaveAction: jest.fn(),
        unRegisterSaveAction: jest.fn(),
        ...extra,
    };
    const user = userEvent.setup({advanceTimers: (ms) => jest.advanceTimersByTime(ms)});
    const view = render(<ConnectorsAndProfilesSetting {...props}/>);
    return {props, user, view};
}

// lastSaved is the JSON last handed to the System Console, parsed.
function lastSaved(onChange: jest.Mock): {[key: string]: any} { // eslint-disable-line @typescript-eslint/no-explicit-any
    const calls = onChange.mock.calls;
    expect(calls.length).toBeGreaterThan(0);
    const [id, value] = calls[calls.length - 1];
    expect(id).toBe('ConnectorsAndProfiles');
    expect(typeof value).toBe('string');
    return value === '' ? {} : JSON.parse(value as string);
}

const row = (name: RegExp | string) => screen.getByRole('group', {name});

describe('ConnectorsAndProfilesSetting', () => {
    beforeEach(() => {
        jest.useFakeTimers();
    });

    it('shows the stored connectors and profiles as rows of labelled fields', () => {
        setup();
        const corp = row('Connector corp');
        expect((within(corp).getByLabelText('Name') as HTMLInputElement).value).toBe('corp');
        expect((within(corp).getByLabelText('Type') as HTMLSelectElement).value).toBe('stepca');
        expect((within(corp).getByLabelText('step-ca URL') as HTMLInputElement).value).toBe('https://ca.example.com:9000');
        expect((within(corp).getByLabelText('Root fingerprint') as HTMLInputElement).value).toBe(FINGERPRINT);
        expect((within(corp).getByLabelText('Provisioner') as HTMLInputElement).value).toBe('mattermost');
        expect((within(corp).getByLabelText('Timeout (seconds)') as HTMLInputElement).value).toBe('10');

        const local = row('Connector local');
        expect(within(local).queryByLabelText('step-ca URL')).toBeNull();

        const vpn = row('Profile vpn');
        expect((within(vpn).getByLabelText('Validity (days)') as HTMLInputElement).value).toBe('90');
        expect((within(vpn).getByLabelText('Key types') as HTMLInputElement).value).toBe('ecdsa-p256, rsa-2048');
        expect((within(vpn).getByLabelText('Connector') as HTMLSelectElement).value).toBe('local');

        const smime = row('Profile smime');
        expect((within(smime).getByLabelText('Common name') as HTMLSelectElement).value).toBe('email');
        expect((within(smime).getByLabelText('Teams') as HTMLInputElement).value).toBe('engineering');
        expect((within(smime).getByLabelText('Requires approval') as HTMLInputElement).checked).toBe(true);
        expect((within(smime).getByLabelText('Approvers') as HTMLInputElement).value).toBe('carol, dave');
        expect((within(smime).getByLabelText('Approvals required') as HTMLInputElement).value).toBe('2');
        expect((within(smime).getByLabelText('Valid certificates per owner') as HTMLInputElement).value).toBe('2');
        expect((within(smime).getByLabelText('Overlap (days)') as HTMLInputElement).value).toBe('14');
        expect((within(smime).getByLabelText('Renewals skip approval') as HTMLInputElement).checked).toBe(true);
        expect((within(smime).getByLabelText('Put the email address in the certificate') as HTMLInputElement).checked).toBe(true);

        expect((screen.getByLabelText('Default profile') as HTMLSelectElement).value).toBe('vpn');
    });

    it('hands the System Console the JSON string of each edit', async () => {
        const {props, user} = setup();
        const vpn = row('Profile vpn');
        const validity = within(vpn).getByLabelText('Validity (days)');
        await user.clear(validity);
        await user.type(validity, '30');
        expect(lastSaved(props.onChange).profiles[0].validity_days).toBe(30);

        await user.clear(within(vpn).getByLabelText('Validity (days)'));
        expect(lastSaved(props.onChange).profiles[0]).not.toHaveProperty('validity_days');

        await user.type(within(vpn).getByLabelText('Approvers'), 'erin,  frank');
        expect(lastSaved(props.onChange).profiles[0].approvers).toEqual(['erin', 'frank']);
        expect((within(vpn).getByLabelText('Approvers') as HTMLInputElement).value).toBe('erin,  frank');

        await user.click(within(vpn).getByLabelText('Guests too'));
        expect(lastSaved(props.onChange).profiles[0].access).toEqual({guests: true});
        await user.click(within(vpn).getByLabelText('Guests too'));
        expect(lastSaved(props.onChange).profiles[0]).not.toHaveProperty('access');

        await user.selectOptions(within(vpn).getByLabelText('Hardware key attestation'), 'require');
        expect(lastSaved(props.onChange).profiles[0].attestation).toBe('require');

        await user.click(within(vpn).getByLabelText('Put the email address in the certificate'));
        expect(lastSaved(props.onChange).profiles[0].subject).toEqual({email_san: false});

        await user.selectOptions(screen.getByLabelText('Default profile'), 'smime');
        expect(lastSaved(props.onChange).default_profile).toBe('smime');
    });

    it('adds, removes and reorders rows, from the keyboard too', async () => {
        const {props, user} = setup();
        await user.click(screen.getByRole('button', {name: 'Add a profile'}));
        const added = row('Profile 3');
        expect(document.activeElement).toBe(within(added).getByLabelText('Name'));
        await user.keyboard('wifi');
        expect(lastSaved(props.onChange).profiles.map((p: {name: string}) => p.name)).toEqual(['vpn', 'smime', 'wifi']);

        // Move wifi up with the keyboard: the focus stays on its button.
        const up = screen.getByRole('button', {name: 'Move Profile wifi up'});
        up.focus();
        await user.keyboard('{Enter}');
        expect(lastSaved(props.onChange).profiles.map((p: {name: string}) => p.name)).toEqual(['vpn', 'wifi', 'smime']);
        expect(document.activeElement).toBe(screen.getByRole('button', {name: 'Move Profile wifi up'}));
        await user.keyboard('{Enter}');
        expect(lastSaved(props.onChange).profiles.map((p: {name: string}) => p.name)).toEqual(['wifi', 'vpn', 'smime']);
        expect((screen.getByRole('button', {name: 'Move Profile wifi up'}) as HTMLButtonElement).disabled).toBe(true);
        // At the top, the focus goes to Down.
        expect(document.activeElement).toBe(screen.getByRole('button', {name: 'Move Profile wifi down'}));

        await user.click(screen.getByRole('button', {name: 'Move Profile smime up'}));
        expect(lastSaved(props.onChange).profiles.map((p: {name: string}) => p.name)).toEqual(['wifi', 'smime', 'vpn']);

        await user.click(screen.getByRole('button', {name: 'Remove Profile vpn'}));
        expect(lastSaved(props.onChange).profiles.map((p: {name: string}) => p.name)).toEqual(['wifi', 'smime']);
        expect(screen.queryByRole('group', {name: 'Profile vpn'})).toBeNull();

        await user.click(screen.getByRole('button', {name: 'Move Connector corp up'}));
        expect(lastSaved(props.onChange).connectors.map((c: {name: string}) => c.name)).toEqual(['corp', 'local']);
    });

    it('renames the references to a renamed connector or profile', async () => {
        const {props, user} = setup();
        await user.type(within(row('Connector local')).getByLabelText('Name'), '2');
        await user.type(within(row('Profile vpn')).getByLabelText('Name'), 'x');
        const saved = lastSaved(props.onChange);
        expect(saved.connectors[0].name).toBe('local2');
        expect(saved.profiles[0].connector).toBe('local2');
        expect(saved.default_profile).toBe('vpnx');
    });

    it('shows the step-ca fields of a step-ca connector', async () => {
        const {props, user} = setup(JSON.stringify({profiles: [{name: 'p'}]}));
        await user.click(screen.getByRole('button', {name: 'Add a connector'}));
        await user.keyboard('local');
        await user.click(screen.getByRole('button', {name: 'Add a connector'}));
        const step = row('Connector 2');
        expect((within(step).getByLabelText('Type') as HTMLSelectElement).value).toBe('stepca'); // a second connector is a step-ca one
        await user.type(within(step).getByLabelText('Name'), 'corp');
        await user.type(within(step).getByLabelText('step-ca URL'), 'https://ca:9000');
        await user.type(within(step).getByLabelText('Root fingerprint'), FINGERPRINT);
        await user.type(within(step).getByLabelText('Provisioner'), 'mm');
        await user.type(within(step).getByLabelText('Provisioner password'), 'hunter2');
        await user.type(within(step).getByLabelText('Timeout (seconds)'), '15');
        expect(lastSaved(props.onChange).connectors[1]).toEqual({
            name: 'corp', type: 'stepca', stepca: {url: 'https://ca:9000', root_fingerprint: FINGERPRINT, provisioner: 'mm', provisioner_password: 'hunter2', timeout_seconds: 15},
        });

        // builtin takes no step-ca settings; switched back they return.
        await user.selectOptions(within(row('Connector corp')).getByLabelText('Type'), 'builtin');
        expect(lastSaved(props.onChange).connectors[1]).toEqual({name: 'corp', type: 'builtin'});
        expect(within(row('Connector corp')).queryByLabelText('step-ca URL')).toBeNull();
        await user.selectOptions(within(row('Connector corp')).getByLabelText('Type'), 'stepca');
        expect(lastSaved(props.onChange).connectors[1].stepca.url).toBe('https://ca:9000');

        const profile = row('Profile p');
        expect(within(within(profile).getByLabelText('Connector')).getAllByRole('option').map((o) => o.textContent)).
            toEqual(['(the only connector)', 'local', 'corp']);
    });

    it('keeps the stored provisioner password unless the admin types a new one', async () => {
        const {props, user} = setup();
        const corp = row('Connector corp');
        expect(within(corp).getByText('Stored. Leave it to keep it.')).toBeTruthy();
        expect(corp.innerHTML).not.toContain(MARKER);
        expect(within(corp).queryByLabelText('Provisioner password')).toBeNull();

        // An edit elsewhere saves the stored marker as it is.
        await user.type(within(corp).getByLabelText('Provisioner'), '2');
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe(MARKER);

        // Change, then leave empty: still the stored one, never empty.
        await user.click(within(corp).getByRole('button', {name: 'Change: Provisioner password'}));
        const input = within(corp).getByLabelText('Provisioner password') as HTMLInputElement;
        expect(input.type).toBe('password');
        expect(input.value).toBe('');
        await user.type(input, 'n3w');
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe('n3w');
        await user.clear(input);
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe(MARKER);
        await user.type(input, 'other');
        await user.click(within(corp).getByRole('button', {name: 'Keep the stored password'}));
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe(MARKER);
        expect(within(corp).getByText('Stored. Leave it to keep it.')).toBeTruthy();

        // Across the JSON editor and back, too.
        await user.click(screen.getByRole('button', {name: 'Edit as JSON'}));
        await user.click(screen.getByRole('button', {name: 'Edit as a form'}));
        await user.type(within(row('Connector corp')).getByLabelText('Provisioner'), '3');
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe(MARKER);
    });

    it('never shows a password stored in clear, in the JSON editor either', async () => {
        const clear = STORED.replace(MARKER, 'clear-pass');
        const {props, user} = setup(clear);
        expect(document.body.innerHTML).not.toContain('clear-pass');
        await user.click(screen.getByRole('button', {name: 'Edit as JSON'}));
        const text = screen.getByLabelText('Connectors and profiles as JSON') as HTMLTextAreaElement;
        expect(text.value).not.toContain('clear-pass');
        expect(text.value).toContain('********');

        // Editing the JSON elsewhere keeps the stored password.
        const edited = text.value.replace('"validity_days": 90', '"validity_days": 60');
        await user.clear(text);
        await user.click(text);
        await user.paste(edited);
        const saved = lastSaved(props.onChange);
        expect(saved.profiles[0].validity_days).toBe(60);
        expect(saved.connectors[1].stepca.provisioner_password).toBe('clear-pass');
    });

    it('edits the same JSON as text, and keeps the form when the text is not JSON', async () => {
        const {props, user} = setup();
        await user.click(screen.getByRole('button', {name: 'Edit as JSON'}));
        expect(screen.getByRole('button', {name: 'Edit as a form'}).getAttribute('aria-pressed')).toBe('true');
        const text = screen.getByLabelText('Connectors and profiles as JSON') as HTMLTextAreaElement;
        expect(JSON.parse(text.value)).toEqual(JSON.parse(STORED));

        // Replaced at once, as by a paste over the whole text.
        props.onChange.mockClear();
        text.focus();
        text.setSelectionRange(0, text.value.length);
        await user.paste('{\n  "profiles": [\n    {"name": "vpn",}\n  ]\n}');
        expect(props.onChange).not.toHaveBeenCalled();
        const error = screen.getByRole('alert');
        expect(error.textContent).toMatch(/Line 3, column \d+/);
        expect(text.getAttribute('aria-invalid')).toBe('true');
        expect(text.getAttribute('aria-describedby')).toContain(error.id);

        // The save is stopped while the text does not read.
        const saveAction = props.registerSaveAction.mock.calls[0][0] as () => Promise<{error?: {message: string}}>;
        await expect(saveAction()).resolves.toEqual({error: {message: expect.stringMatching(/^Connectors and profiles: Line 3/)}});

        // Back to the form: as before the invalid text.
        await user.click(screen.getByRole('button', {name: 'Edit as a form'}));
        expect(row('Profile smime')).toBeTruthy();
        expect(props.onChange).not.toHaveBeenCalled();

        await user.click(screen.getByRole('button', {name: 'Edit as JSON'}));
        const again = screen.getByLabelText('Connectors and profiles as JSON') as HTMLTextAreaElement;
        await user.clear(again);
        await user.click(again);
        await user.paste('{"profiles": [{"name": "only", "validity_days": 7}]}');
        expect(lastSaved(props.onChange)).toEqual({profiles: [{name: 'only', validity_days: 7}]});
        await user.click(screen.getByRole('button', {name: 'Edit as a form'}));
        expect((within(row('Profile only')).getByLabelText('Validity (days)') as HTMLInputElement).value).toBe('7');
        expect(screen.queryByRole('group', {name: 'Profile vpn'})).toBeNull();

        // Empty text is the default catalog: the empty setting.
        await user.click(screen.getByRole('button', {name: 'Edit as JSON'}));
        await user.clear(screen.getByLabelText('Connectors and profiles as JSON'));
        expect(props.onChange).toHaveBeenLastCalledWith('ConnectorsAndProfiles', '');
    });

    it('saves back the keys it does not show', async () => {
        const stored = JSON.stringify({
            comment: 'kept',
            connectors: [{name: 'local', type: 'builtin', owner: 'pki-team'}],
            profiles: [{name: 'vpn', future_field: {a: [1, 2]}, subject: {common_name: 'email', country: 'NL'}, access: {teams: ['x'], later: true}}],
        });
        const {props, user} = setup(stored);
        expect(within(row('Profile vpn')).getByText(/Also kept as they are: future_field, subject.country, access.later/)).toBeTruthy();
        await user.type(within(row('Profile vpn')).getByLabelText('Description'), 'd');
        await user.click(within(row('Profile vpn')).getByLabelText('Guests too'));
        expect(lastSaved(props.onChange)).toEqual({
            comment: 'kept',
            connectors: [{name: 'local', type: 'builtin', owner: 'pki-team'}],
            profiles: [{name: 'vpn', future_field: {a: [1, 2]}, subject: {common_name: 'email', country: 'NL'}, access: {teams: ['x'], later: true, guests: true}, description: 'd'}],
        });
    });

    it('starts from the default catalog when the setting is empty', async () => {
        const {props, user} = setup('');
        expect(screen.getByText(/Empty: the default catalog/)).toBeTruthy();
        await user.click(screen.getByRole('button', {name: 'Start from the default'}));
        expect(lastSaved(props.onChange)).toEqual({
            connectors: [{name: 'builtin', type: 'builtin'}],
            profiles: [{name: 'default', description: 'Client certificate for VPN, Wi-Fi and mTLS', connector: 'builtin'}],
        });
        await user.click(screen.getByRole('button', {name: 'Remove Profile default'}));
        await user.click(screen.getByRole('button', {name: 'Remove Connector builtin'}));
        expect(props.onChange).toHaveBeenLastCalledWith('ConnectorsAndProfiles', '');
    });

    it('asks the server after edits and shows its messages beside their fields', async () => {
        fetchMock.mockImplementation(() => respond(200, {problems: [
            {field: 'profiles[1].validity_days', message: 'profile "smime": validity_days must be between 1 and 3650 (got 5000)'},
            {field: 'connectors[1].stepca.url', message: 'connector "corp": stepca.url: step-ca URL must start with https://'},
            {field: 'profiles[0].subject.common_nam', message: 'profile "vpn": unknown field "subject.common_nam"'},
        ]}));
        document.cookie = 'MMCSRF=csrf-token-1';
        window.basename = '/chat';
        const {user} = setup();
        const validity = within(row('Profile smime')).getByLabelText('Validity (days)');
        await user.type(validity, '5000');
        expect(fetchMock).not.toHaveBeenCalled();
        await act(async () => {
            jest.advanceTimersByTime(CHECK_DELAY_MS);
        });
        expect(fetchMock).toHaveBeenCalledTimes(1);

        const [url, init] = fetchMock.mock.calls[0];
        expect(url).toBe('/chat/plugins/certs/api/v1/admin/settings/check');
        expect(init?.method).toBe('POST');
        expect(init?.credentials).toBe('include');
        const headers = init?.headers as Record<string, string>;
        expect(headers['X-Requested-With']).toBe('XMLHttpRequest');
        expect(headers['X-CSRF-Token']).toBe('csrf-token-1');
        expect(headers['Content-Type']).toBe('application/json');
        const sent = JSON.parse(init?.body as string);
        expect(JSON.parse(sent.connectors_and_profiles).profiles[1].validity_days).toBe(5000);

        expect(validity.getAttribute('aria-invalid')).toBe('true');
        const describedBy = (validity.getAttribute('aria-describedby') ?? '').split(' ');
        const messages = describedBy.map((id) => document.getElementById(id)?.textContent);
        expect(messages).toContain('profile "smime": validity_days must be between 1 and 3650 (got 5000)');

        const url2 = within(row('Connector corp')).getByLabelText('step-ca URL');
        expect(url2.getAttribute('aria-invalid')).toBe('true');
        expect(row('Connector corp').textContent).toContain('step-ca URL must start with https://');

        const top = screen.getByRole('alert');
        expect(top.textContent).toContain('unknown field "subject.common_nam"');
        expect(top.textContent).not.toContain('validity_days');
        window.basename = undefined;
    });

    it('checks again as the System Console saves, and keeps the page unsaved when the server objects', async () => {
        const {props} = setup();
        expect(props.registerSaveAction).toHaveBeenCalledTimes(1);
        const saveAction = props.registerSaveAction.mock.calls[0][0] as () => Promise<{error?: {message: string}}>;

        let result: {error?: {message: string}} = {error: {message: 'not run'}};
        await act(async () => {
            result = await saveAction();
        });
        expect(result).toEqual({});
        expect(JSON.parse(fetchMock.mock.calls[0][1]?.body as string)).toEqual({connectors_and_profiles: STORED});

        fetchMock.mockImplementation(() => respond(200, {problems: [{field: 'default_profile', message: 'default_profile: no profile is called "x"'}]}));
        await act(async () => {
            result = await saveAction();
        });
        expect(result).toEqual({error: {message: 'Connectors and profiles: default_profile: no profile is called "x"'}});
        const select = screen.getByLabelText('Default profile');
        expect(select.getAttribute('aria-invalid')).toBe('true');

        // A check that cannot be made leaves the save to the server.
        fetchMock.mockImplementation(() => respond(403, {error: 'only a system admin may check the plugin\'s settings', status_code: 403}));
        await act(async () => {
            result = await saveAction();
        });
        expect(result).toEqual({});
        expect(screen.getByText(/could not be checked: only a system admin may check the plugin's settings/)).toBeTruthy();
    });

    it('counts a password just saved as stored', async () => {
        const {props, user} = setup();
        const corp = row('Connector corp');
        await user.click(within(corp).getByRole('button', {name: 'Change: Provisioner password'}));
        await user.type(within(corp).getByLabelText('Provisioner password'), 'n3w');
        const saveAction = props.registerSaveAction.mock.calls[0][0] as () => Promise<{error?: {message: string}}>;
        await act(async () => {
            await saveAction();
        });
        expect(within(row('Connector corp')).getByText('Stored. Leave it to keep it.')).toBeTruthy();
        expect(document.body.innerHTML).not.toContain('n3w');
        await user.type(within(row('Connector corp')).getByLabelText('Provisioner'), 'x');
        expect(lastSaved(props.onChange).connectors[1].stepca.provisioner_password).toBe('n3w');
    });

    it('unregisters its save action when it goes', () => {
        const {props, view} = setup();
        const saveAction = props.registerSaveAction.mock.calls[0][0];
        view.unmount();
        expect(props.unRegisterSaveAction).toHaveBeenCalledWith(saveAction);
    });

    it('is read-only when the setting is disabled or set by the environment', () => {
        setup(STORED, {setByEnv: true});
        expect((within(row('Profile vpn')).getByLabelText('Name') as HTMLInputElement).disabled).toBe(true);
        expect((screen.getByRole('button', {name: 'Add a profile'}) as HTMLButtonElement).disabled).toBe(true);
    });

    it('shows a stored value that is not JSON in the JSON editor', () => {
        setup('{"profiles": [');
        const text = screen.getByLabelText('Connectors and profiles as JSON') as HTMLTextAreaElement;
        expect(text.value).toBe('{"profiles": [');
        expect(screen.getAllByRole('alert').map((a) => a.textContent).join(' ')).toMatch(/cannot be shown as a form/);
    });
});

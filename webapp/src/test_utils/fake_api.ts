import {jest} from '@jest/globals';

// A stand-in for the plugin's JSON API: each route answers from a table the
// test fills, and every request is kept for the test to read.
export interface Sent {
    method: string;
    path: string;
    body: unknown;
    headers: Record<string, string>;
}

type Answer = {status: number; body: unknown} | ((body: unknown) => {status: number; body: unknown});

export function fakeAPI(routes: Record<string, Answer>) {
    const sent: Sent[] = [];
    const fetchMock = jest.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = new URL(String(input), 'http://localhost:8065');
        const path = url.pathname.replace(/^.*\/api\/v1/, '');
        const method = init?.method || 'GET';
        const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
        sent.push({method, path, body, headers: {...(init?.headers as Record<string, string>)}});
        const route = routes[`${method} ${path}`];
        const answer = typeof route === 'function' ? route(body) : route;
        const {status, body: answerBody} = answer || {status: 404, body: {error: `no route ${method} ${path}`}};
        return {ok: status >= 200 && status < 300, status, statusText: '', text: async () => JSON.stringify(answerBody)};
    });
    globalThis.fetch = fetchMock as unknown as typeof fetch;
    return {sent, fetchMock, routes};
}

export const vpnProfile = {
    name: 'vpn',
    description: 'VPN access',
    default: true,
    validity_days: 30,
    key_type: 'ecdsa-p256',
    ext_key_usages: ['clientAuth'],
    key_types: ['ecdsa-p256', 'rsa-2048'],
    server_key: true,
    attestation: 'ignore',
    requires_approval: false,
    email: 'allowed',
    pkcs12_format: 'compatible',
    subject: {common_name: 'alice', emails: ['alice@example.com']},
};

export const secureProfile = {
    ...vpnProfile,
    name: 'secure',
    description: 'Privileged access',
    default: false,
    requires_approval: true,
    approvers: ['bob'],
};

export const issuance = {
    serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
    subject: 'CN=alice,O=Example',
    not_after: '2027-01-06T10:00:00Z',
    certificate_pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    filename: 'alice.p12',
    passphrase: 'correct-horse-battery',
    pkcs12: 'AAECAw==',
};

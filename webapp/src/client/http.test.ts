import {afterEach, describe, expect, it, jest} from '@jest/globals';

import {ApiError, apiFetch} from './http';

function mockFetch(status: number, body: string) {
    const fetchMock = jest.fn(() => Promise.resolve({ok: status >= 200 && status < 300, status, statusText: 'Status', text: () => Promise.resolve(body)}));
    (globalThis as {fetch?: unknown}).fetch = fetchMock;
    return fetchMock;
}

afterEach(() => {
    window.basename = undefined;
    document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

describe('apiFetch', () => {
    it('carries the Mattermost session and CSRF token under the plugin API base', async () => {
        window.basename = '/mm';
        document.cookie = 'MMCSRF=tok%20en';
        const fetchMock = mockFetch(200, '{"ok": true}');
        await expect(apiFetch<{ok: boolean}>('/admin/counts', {headers: {'X-Extra': '1'}})).resolves.toEqual({ok: true});
        const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
        expect(url).toBe('/mm/plugins/certs/api/v1/admin/counts');
        expect(init.credentials).toBe('include');
        expect(init.headers).toEqual({'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest', 'X-CSRF-Token': 'tok en', 'X-Extra': '1'});
    });

    it('sends a string body as JSON', async () => {
        const fetchMock = mockFetch(200, '');
        await expect(apiFetch('/x', {method: 'POST', body: '{}'})).resolves.toBeUndefined();
        const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
        expect(url).toBe('/plugins/certs/api/v1/x');
        expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
        expect((init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
    });

    it('throws the server\'s own words', async () => {
        mockFetch(403, '{"error": "only a system admin may check the plugin\'s settings", "status_code": 403}');
        const err = await apiFetch('/admin/settings/check').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).message).toBe('only a system admin may check the plugin\'s settings');
        expect((err as ApiError).status).toBe(403);

        mockFetch(502, '<html>bad gateway</html>');
        await expect(apiFetch('/x')).rejects.toThrow('502 Status');
    });
});

// The plugin's JSON API as the web app's own client calls Mattermost: with
// the session cookie, and the headers its CSRF check wants on every state
// change.
import {id as pluginId} from '../manifest';
import type {} from '../types/plugin_registry';

// ApiError carries the server's own words, which the modal shows as they are.
export class ApiError extends Error {
    constructor(message: string, public readonly status: number) {
        super(message);
        this.name = 'ApiError';
    }
}

export function apiBase(): string {
    return `${window.basename || ''}/plugins/${pluginId}/api/v1`;
}

function csrfToken(): string {
    const match = document.cookie.match(/(?:^|;\s*)MMCSRF=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : '';
}

export async function apiFetch<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = {
        'X-Requested-With': 'XMLHttpRequest',
        Accept: 'application/json',
        ...(init.headers as Record<string, string> | undefined),
    };
    const token = csrfToken();
    if (token) {
        headers['X-CSRF-Token'] = token;
    }
    if (init.body !== undefined && !headers['Content-Type']) {
        headers['Content-Type'] = 'application/json';
    }
    let response: Response;
    try {
        response = await fetch(apiBase() + path, {...init, headers, credentials: 'include'});
    } catch {
        throw new ApiError('The server could not be reached. Check your connection and try again.', 0);
    }
    const text = await response.text();
    let body: unknown;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        body = undefined;
    }
    if (!response.ok) {
        const message = (body as {error?: unknown} | undefined)?.error;
        throw new ApiError(
            typeof message === 'string' && message ? message : `The server answered ${response.status} ${response.statusText}.`.replace(/\s+\./, '.'),
            response.status,
        );
    }
    return body as T;
}

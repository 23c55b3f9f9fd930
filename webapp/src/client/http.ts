// The plugin's JSON API, called as the web app's own client calls
// Mattermost: with the session cookie, and the headers its CSRF check wants
// on every state change.
import {id as pluginId} from '../manifest';
import type {} from '../types/plugin_registry';

// The API base, under the path Mattermost is served from.
export function apiBase(): string {
    return `${window.basename || ''}/plugins/${pluginId}/api/v1`;
}

// An API call that failed. The message is the server's own words (the
// "error" of its JSON body) when it gave any, which the UI shows as they are.
export class ApiError extends Error {
    readonly status: number;
    readonly body: unknown;

    constructor(message: string, status: number, body?: unknown) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.body = body;
    }
}

function cookie(name: string): string {
    for (const part of document.cookie.split(';')) {
        const [key, ...rest] = part.trim().split('=');
        if (key === name) {
            return decodeURIComponent(rest.join('='));
        }
    }
    return '';
}

function headersOf(init: HeadersInit | undefined): Record<string, string> {
    if (!init) {
        return {};
    }
    if (Array.isArray(init)) {
        return Object.fromEntries(init);
    }
    if (typeof (init as Headers).forEach === 'function') {
        const out: Record<string, string> = {};
        (init as Headers).forEach((value, key) => {
            out[key] = value;
        });
        return out;
    }
    return {...(init as Record<string, string>)};
}

// apiFetch calls path (relative to apiBase(), e.g. "/profiles") and returns
// its JSON body, or undefined for an empty one. A body given as a string is
// sent as JSON. It throws an ApiError for a status other than 2xx, and for a
// server that cannot be reached.
export async function apiFetch<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = {
        Accept: 'application/json',
        'X-Requested-With': 'XMLHttpRequest',
        ...headersOf(init.headers),
    };
    const csrf = cookie('MMCSRF');
    if (csrf) {
        headers['X-CSRF-Token'] = csrf;
    }
    if (typeof init.body === 'string' && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json';
    }

    let response: Response;
    try {
        response = await fetch(`${apiBase()}${path}`, {...init, headers, credentials: 'include'});
    } catch {
        throw new ApiError('The server could not be reached. Check your connection and try again.', 0);
    }
    const text = await response.text();
    let body: unknown;
    if (text) {
        try {
            body = JSON.parse(text);
        } catch {
            body = text;
        }
    }
    if (!response.ok) {
        const serverWords = body && typeof body === 'object' && typeof (body as {error?: unknown}).error === 'string' ? (body as {error: string}).error : '';
        throw new ApiError(serverWords || `The server answered ${response.status} ${response.statusText}`.trim() + '.', response.status, body);
    }
    return body as T;
}

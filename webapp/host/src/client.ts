// The REST client: what the Mattermost web app's own client sends with every
// request of a cookie session.

export class APIError extends Error {
    constructor(message: string, public readonly status: number, public readonly body: unknown) {
        super(message);
    }
}

export function csrfToken(): string {
    const match = document.cookie.match(/(?:^|;\s*)MMCSRF=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : '';
}

export function basename(): string {
    return window.basename || '';
}

// Calls the server and returns the decoded JSON answer (or the text, when it is
// not JSON); an answer other than 2xx throws an APIError with the server's message.
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
        'X-Requested-With': 'XMLHttpRequest',
        Accept: 'application/json',
    };
    const csrf = csrfToken();
    if (csrf) {
        headers['X-CSRF-Token'] = csrf;
    }
    const init: RequestInit = {method, headers, credentials: 'same-origin'};
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }
    const response = await fetch(basename() + path, init);
    const text = await response.text();
    let data: unknown = text;
    try {
        data = text ? JSON.parse(text) : null;
    } catch {
        // not JSON: keep the text
    }
    if (!response.ok) {
        const message = (data && typeof data === 'object' && 'message' in data && typeof data.message === 'string') ? data.message : `${response.status} ${response.statusText}`;
        throw new APIError(`${method} ${path}: ${message}`, response.status, data);
    }
    return data as T;
}

export function errorText(error: unknown): string {
    if (error instanceof Error) {
        return error.message;
    }
    return String(error);
}

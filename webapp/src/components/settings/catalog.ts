// The ConnectorsAndProfiles setting as the form edits it: the admin's JSON
// document itself, changed one key at a time, so that keys the form does not
// show are saved back as they were.

export type JSONObject = {[key: string]: unknown};

export interface CatalogDoc extends JSONObject {
    connectors?: JSONObject[];
    profiles?: JSONObject[];
    default_profile?: string;
}

export function isObject(v: unknown): v is JSONObject {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// What parsing the stored value gave: a document, or the reason the form
// cannot show it (then the JSON editor shows the text as it is).
export type ParseResult = {ok: true; doc: CatalogDoc} | {ok: false; error: string};

// parseCatalog reads the setting. Empty means the default catalog, which
// the form shows as no connectors and no profiles.
export function parseCatalog(text: string): ParseResult {
    if (text.trim() === '') {
        return {ok: true, doc: {}};
    }
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (err) {
        return {ok: false, error: describeJSONError(text, err)};
    }
    if (!isObject(value)) {
        return {ok: false, error: 'The JSON must be an object: {"connectors": [...], "profiles": [...]}'};
    }
    for (const list of ['connectors', 'profiles'] as const) {
        const entries = value[list];
        if (entries !== undefined && !(Array.isArray(entries) && entries.every(isObject))) {
            return {ok: false, error: `"${list}" must be a list of objects`};
        }
    }
    return {ok: true, doc: value as CatalogDoc};
}

// describeJSONError says where a JSON text is wrong: "Line 3, column 7: ...".
export function describeJSONError(text: string, err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    const match = /at position (\d+)/.exec(message);
    if (!match) {
        return message;
    }
    const position = Number(match[1]);
    const before = text.slice(0, position).split('\n');
    const line = before.length;
    const column = before[before.length - 1].length + 1;
    const words = message.replace(/\s*in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
    return `Line ${line}, column ${column}: ${words}`;
}

// isDefaultCatalog reports whether a document says nothing: saved as the
// empty setting, which is the default catalog.
export function isDefaultCatalog(doc: CatalogDoc): boolean {
    return Object.entries(doc).every(([key, value]) =>
        (key === 'connectors' || key === 'profiles') && Array.isArray(value) && value.length === 0);
}

// serializeCatalog is the setting's value for a document.
export function serializeCatalog(doc: CatalogDoc): string {
    if (isDefaultCatalog(doc)) {
        return '';
    }
    return JSON.stringify(doc, null, 2);
}

// getPath reads "subject.email_san" of an entry.
export function getPath(entry: JSONObject, path: string): unknown {
    let cur: unknown = entry;
    for (const key of path.split('.')) {
        if (!isObject(cur)) {
            return undefined;
        }
        cur = cur[key];
    }
    return cur;
}

// setPath returns a copy of entry with path set to value; undefined removes
// the key, and an object the removal leaves empty. Keys it does not touch
// stay in their place.
export function setPath(entry: JSONObject, path: string, value: unknown): JSONObject {
    const [key, ...rest] = path.split('.');
    const out: JSONObject = {...entry};
    if (rest.length === 0) {
        if (value === undefined) {
            delete out[key];
        } else {
            out[key] = value;
        }
        return out;
    }
    const child = isObject(entry[key]) ? entry[key] as JSONObject : {};
    const next = setPath(child, rest.join('.'), value);
    if (Object.keys(next).length === 0 && value === undefined) {
        delete out[key];
    } else {
        out[key] = next;
    }
    return out;
}

// The keys the form shows, for telling the admin which others it keeps.
export const CONNECTOR_KEYS = ['name', 'type', 'stepca'];
export const STEPCA_KEYS = ['url', 'root_fingerprint', 'provisioner', 'provisioner_password', 'timeout_seconds'];
export const PROFILE_FIELDS = [
    'name', 'description', 'connector', 'validity_days', 'key_types', 'ext_key_usages',
    'subject.common_name', 'subject.organization', 'subject.organizational_unit', 'subject.email_san',
    'access.teams', 'access.system_admins_only', 'access.guests', 'access.portal', 'access.oidc_groups', 'access.local_accounts',
    'requires_approval', 'approvers', 'approvals_required', 'csr_names', 'attestation',
    'limits.active', 'limits.per_day', 'renewal.overlap_days', 'renewal.skip_approval', 'renewal.revoke_replaced',
];
export const CATALOG_KEYS = ['connectors', 'profiles', 'default_profile'];

// otherKeys lists the keys of an entry the form does not show, as paths.
export function otherKeys(entry: JSONObject, shown: string[]): string[] {
    const out: string[] = [];
    const walk = (obj: JSONObject, prefix: string) => {
        for (const [key, value] of Object.entries(obj)) {
            const path = prefix + key;
            if (shown.includes(path)) {
                continue;
            }
            if (isObject(value) && shown.some((s) => s.startsWith(path + '.'))) {
                walk(value, path + '.');
            } else {
                out.push(path);
            }
        }
    };
    walk(entry, '');
    return out;
}

// The place of a server problem in the form: the path of a field the form
// shows ("profiles[1].validity_days"), or undefined when it shows none and
// the problem goes at the top.
export function placeOf(path: string, doc: CatalogDoc): string | undefined {
    if (path === 'default_profile') {
        return path;
    }
    const m = /^(connectors|profiles)\[(\d+)\](?:\.(.+))?$/.exec(path);
    if (!m) {
        return undefined;
    }
    const [, list, index, field] = m;
    const entry = doc[list as 'connectors' | 'profiles']?.[Number(index)];
    if (!entry || !field) {
        return undefined;
    }
    const base = `${list}[${index}]`;
    if (list === 'connectors') {
        if (field === 'stepca') {
            return `${base}.type`;
        }
        if (field === 'name' || field === 'type') {
            return `${base}.${field}`;
        }
        const sub = /^stepca\.(.+)$/.exec(field);
        if (sub && STEPCA_KEYS.includes(sub[1]) && entry.type === 'stepca') {
            return `${base}.${field}`;
        }
        return undefined;
    }
    return PROFILE_FIELDS.includes(field) ? `${base}.${field}` : undefined;
}

// listText and parseList turn a list setting into the text of its input
// and back: comma-separated.
export function listText(value: unknown): string {
    return Array.isArray(value) ? value.map(String).join(', ') : '';
}

export function parseList(text: string): string[] | undefined {
    const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return items.length > 0 ? items : undefined;
}

// A stored provisioner password is a marker ("sealed:<id>") once the
// server has sealed it; one still in clear (saved before the plugin had
// an encryption secret) is shown as SECRET_MASK in the JSON editor, and a
// SECRET_MASK read back means the stored one.
export const SEALED_PREFIX = 'sealed:';
export const SECRET_MASK = '********';

function mapPasswords(doc: CatalogDoc, f: (password: unknown, index: number, connector: JSONObject) => unknown): CatalogDoc {
    if (!Array.isArray(doc.connectors)) {
        return doc;
    }
    const connectors = doc.connectors.map((conn, i) => {
        const stepca = conn.stepca;
        if (!isObject(stepca) || !('provisioner_password' in stepca)) {
            return conn;
        }
        const next = f(stepca.provisioner_password, i, conn);
        return next === stepca.provisioner_password ? conn : {...conn, stepca: {...stepca, provisioner_password: next}};
    });
    return {...doc, connectors};
}

// maskSecrets hides the clear passwords of stored (for the JSON editor).
export function maskSecrets(doc: CatalogDoc, stored: CatalogDoc): CatalogDoc {
    return mapPasswords(doc, (password, i, conn) => {
        const was = storedPassword(stored, i, conn);
        return typeof password === 'string' && password !== '' && password === was && !password.startsWith(SEALED_PREFIX) ? SECRET_MASK : password;
    });
}

// unmaskSecrets puts the stored password back where the JSON says SECRET_MASK.
export function unmaskSecrets(doc: CatalogDoc, stored: CatalogDoc): CatalogDoc {
    return mapPasswords(doc, (password, i, conn) => {
        const was = storedPassword(stored, i, conn);
        return password === SECRET_MASK && was !== undefined ? was : password;
    });
}

// storedPassword is the stored password of the connector of that name, or
// of that place when no stored connector has its name.
export function storedPassword(stored: CatalogDoc, index: number, conn: JSONObject): string | undefined {
    const list = Array.isArray(stored.connectors) ? stored.connectors : [];
    const match = list.find((c) => c.name !== undefined && c.name === conn.name) ?? (conn.name === undefined ? list[index] : undefined);
    const password = match && isObject(match.stepca) ? match.stepca.provisioner_password : undefined;
    return typeof password === 'string' && password !== '' ? password : undefined;
}

// The user API the enroll modal calls (docs/http-api.md), typed.
import {apiFetch} from './http';

export type PKCS12Format = 'compatible' | 'modern';

export interface Profile {
    name: string;
    description?: string;
    default: boolean;
    validity_days: number;
    key_type: string;
    ext_key_usages: string[];
    key_types: string[];
    server_key: boolean;
    attestation: 'ignore' | 'verify_if_present' | 'require' | string;
    requires_approval: boolean;
    approvers?: string[];
    email: 'off' | 'allowed' | 'default' | string;
    pkcs12_format: PKCS12Format;
    subject: {common_name: string; emails: string[]};
}

export interface Issuance {
    serial: string;
    subject: string;
    not_after: string;
    certificate_pem: string;
    filename?: string;
    passphrase?: string;
    pkcs12?: string;
    attested?: boolean;
    device_serial?: string;
    emailed_to?: string;
    email_error?: string;
}

export interface Waiting {
    request_id: string;
    state: string;
    profile: string;
}

export type EnrollResult = {issued: Issuance} | {waiting: Waiting};

export interface Certificate {
    serial: string;
    subject: string;
    not_after: string;
    state: string;
    profile: string;
    key_type: string;
    revocation_reason?: string;
    revocation_pending?: boolean;
    origin?: string;
    renews?: string;
}

export interface CertRequest {
    id: string;
    profile: string;
    state: string;
    created_at: string;
    reason?: string;
    serial?: string;
}

export interface EnrollBody {
    profile?: string;
    renews?: string;
    csr?: string;
    attestation?: string;
    format?: PKCS12Format;
    email?: boolean;
}

// An enrollment answers 201 with an issuance or 202 with a waiting request:
// the two shapes tell themselves apart by their fields.
function resultOf(body: Issuance | Waiting): EnrollResult {
    return 'request_id' in body ? {waiting: body} : {issued: body};
}

export const certsAPI = {
    profiles: () => apiFetch<Profile[]>('/profiles'),
    certificates: () => apiFetch<Certificate[]>('/certificates'),
    requests: () => apiFetch<CertRequest[]>('/requests'),
    enroll: async (body: EnrollBody) => resultOf(await apiFetch<Issuance | Waiting>('/enrollments', {method: 'POST', body: JSON.stringify(body)})),
    collect: async (requestID: string, body: EnrollBody = {}) => resultOf(await apiFetch<Issuance | Waiting>(
        `/requests/${encodeURIComponent(requestID)}/collect`, {method: 'POST', body: JSON.stringify(body)})),
    cancel: (requestID: string) => apiFetch<CertRequest>(`/requests/${encodeURIComponent(requestID)}/cancel`, {method: 'POST'}),
    revoke: (serial: string, reason: string) => apiFetch<Certificate>(
        `/certificates/${encodeURIComponent(serial)}/revoke`, {method: 'POST', body: JSON.stringify({reason})}),
};

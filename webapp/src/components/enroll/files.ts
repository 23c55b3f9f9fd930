// What the modal hands the user as files: made in the page, never sent
// anywhere.

export function base64ToBytes(base64: string): Uint8Array {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
        bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
}

// saveFile offers bytes as a download, as a click on a link would.
export function saveFile(content: Uint8Array | string, filename: string, type: string) {
    const url = URL.createObjectURL(new Blob([content as BlobPart], {type}));
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    link.rel = 'noopener';
    document.body.appendChild(link);
    link.click();
    link.remove();

    // Late enough for the browser to have started the download.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// fileBase is a name for the user's files, from their certificate's common
// name: letters, digits, dot, dash and underscore only.
export function fileBase(commonName: string): string {
    const base = commonName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
    return base || 'certificate';
}

function escapeXML(text: string): string {
    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function newUUID(): string {
    if (typeof crypto.randomUUID === 'function') {
        return crypto.randomUUID().toUpperCase();
    }
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`.toUpperCase();
}

export interface MobileConfigInput {
    pkcs12: Uint8Array;
    filename: string;
    displayName: string;
    organization: string;
    serial: string;
}

// mobileConfig is an Apple configuration profile whose one payload is the
// PKCS#12 identity: iOS, iPadOS and macOS install it from a tap on the
// file, asking for the passphrase once. The passphrase is not in the file,
// so the file alone gives nobody the key.
export function mobileConfig({pkcs12, filename, displayName, organization, serial}: MobileConfigInput): string {
    const identityUUID = newUUID();
    const profileUUID = newUUID();
    const data = bytesToBase64(pkcs12).replace(/(.{64})/g, '$1\n');
    const s = (text: string) => `<string>${escapeXML(text)}</string>`;
    return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>PayloadContent</key>
    <array>
        <dict>
            <key>PayloadCertificateFileName</key>
            ${s(filename)}
            <key>PayloadContent</key>
            <data>
${data}
            </data>
            <key>PayloadDescription</key>
            ${s('Your client certificate and its private key')}
            <key>PayloadDisplayName</key>
            ${s(displayName)}
            <key>PayloadIdentifier</key>
            ${s(`com.apple.security.pkcs12.${identityUUID}`)}
            <key>PayloadType</key>
            <string>com.apple.security.pkcs12</string>
            <key>PayloadUUID</key>
            ${s(identityUUID)}
            <key>PayloadVersion</key>
            <integer>1</integer>
        </dict>
    </array>
    <key>PayloadDescription</key>
    ${s(`Installs the client certificate ${serial}.`)}
    <key>PayloadDisplayName</key>
    ${s(displayName)}
    <key>PayloadIdentifier</key>
    ${s(`certs.identity.${serial}`)}
    <key>PayloadOrganization</key>
    ${s(organization)}
    <key>PayloadRemovalDisallowed</key>
    <false/>
    <key>PayloadType</key>
    <string>Configuration</string>
    <key>PayloadUUID</key>
    ${s(profileUUID)}
    <key>PayloadVersion</key>
    <integer>1</integer>
</dict>
</plist>
`;
}

// formatDate shows a date as the user's locale writes it.
export function formatDate(iso: string): string {
    const date = new Date(iso);
    if (isNaN(date.getTime())) {
        return iso;
    }
    return date.toLocaleDateString(undefined, {year: 'numeric', month: 'long', day: 'numeric'});
}

// shortSerial is the last 12 hex digits of a serial, enough to tell a
// user's certificates apart.
export function shortSerial(serial: string): string {
    return serial.length > 12 ? `…${serial.slice(-12)}` : serial;
}

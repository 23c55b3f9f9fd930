// PEM blocks (RFC 7468) to DER and back.

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PEMBlock {
    type: string;
    der: Uint8Array;
}

export function decodePEM(pem: string): PEMBlock[] {
    const blocks: PEMBlock[] = [];
    for (const match of pem.matchAll(BLOCK)) {
        const body = match[2].replace(/\s+/g, '');
        const binary = atob(body);
        const der = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) {
            der[i] = binary.charCodeAt(i);
        }
        blocks.push({type: match[1], der});
    }
    return blocks;
}

export function encodePEM(type: string, der: Uint8Array): string {
    let binary = '';
    for (const byte of der) {
        binary += String.fromCharCode(byte);
    }
    const lines = btoa(binary).match(/.{1,64}/g) ?? [];
    return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

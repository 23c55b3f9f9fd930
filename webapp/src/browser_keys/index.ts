// Placeholder until the browser-key library lands.
export interface GenerateOptions {keyType: string; commonName: string; emails?: string[]}
export async function generateKeyAndCSR(options: GenerateOptions): Promise<{keys: CryptoKeyPair; csrPEM: string}> {
    throw new Error(`not available: ${options.keyType}`);
}
export function newPassphrase(): string {
    return '';
}
export async function buildPKCS12(options: {privateKey: CryptoKey; certificatePEM: string; passphrase: string; format: string; friendlyName: string}): Promise<Uint8Array> {
    throw new Error(`not available: ${options.format}`);
}

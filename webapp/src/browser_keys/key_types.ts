// Key types, named as the server names them (its key_type setting), and the
// WebCrypto parameters that make each of them.

export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;

export type KeyType = typeof KEY_TYPES[number];

export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

export interface KeyAlgorithm {

    // What crypto.subtle.generateKey takes.
    generate: EcKeyGenParams | RsaHashedKeyGenParams;

    // What signs the certificate request: ECDSA with the hash that matches the
    // curve, RSA with PKCS #1 v1.5 and SHA-256.
    sign: EcdsaParams | Algorithm;
}

const RSA_PUBLIC_EXPONENT = new Uint8Array([0x01, 0x00, 0x01]); // 65537

function rsa(modulusLength: number): KeyAlgorithm {
    return {
        generate: {name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: RSA_PUBLIC_EXPONENT, hash: 'SHA-256'},
        sign: {name: 'RSASSA-PKCS1-v1_5'},
    };
}

const ALGORITHMS: Record<KeyType, KeyAlgorithm> = {
    'ecdsa-p256': {generate: {name: 'ECDSA', namedCurve: 'P-256'}, sign: {name: 'ECDSA', hash: 'SHA-256'}},
    'ecdsa-p384': {generate: {name: 'ECDSA', namedCurve: 'P-384'}, sign: {name: 'ECDSA', hash: 'SHA-384'}},
    'rsa-2048': rsa(2048),
    'rsa-3072': rsa(3072),
    'rsa-4096': rsa(4096),
};

export function isKeyType(value: unknown): value is KeyType {
    return typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value);
}

export function keyAlgorithm(keyType: KeyType): KeyAlgorithm {
    if (!isKeyType(keyType)) {
        throw new Error(`unknown key type "${String(keyType)}" (accepted: ${KEY_TYPES.join(', ')})`);
    }
    return ALGORITHMS[keyType];
}

// pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292, appendix C), the encryption of
// "compatible" PKCS #12 files: what every PKCS #12 reader, old Windows and
// macOS Keychain included, opens.
//
// PKI.js builds and reads the PKCS #12 structures, but its crypto engine only
// encrypts with PBES2 (PBKDF2 and a WebCrypto cipher), and WebCrypto has no
// DES at all. This file adds only that step: the PKCS #12 key derivation
// (RFC 7292, appendix B.2, on WebCrypto's SHA-1) and triple DES in CBC mode
// (des.js, as WebCrypto lacks it). The result is an AlgorithmIdentifier and
// the ciphertext, to put in PKI.js's structures.
import * as asn1js from 'asn1js';
import * as des from 'des.js';
import {AlgorithmIdentifier} from 'pkijs';

export const OID_PBE_SHA1_3DES = '1.2.840.113549.1.12.1.3';

// RFC 7292, B.3: what the derived bytes are for.
const ID_KEY = 1;
const ID_IV = 2;

// SHA-1: u, the output length, and v, the block length, in bytes.
const SHA1_U = 20;
const SHA1_V = 64;

const TRIPLE_DES_KEY_BYTES = 24;
const DES_BLOCK_BYTES = 8;

// RFC 7292, B.1: the password as a BMPString (big-endian UTF-16) with two
// zero bytes at the end.
export function bmpPassword(password: string): Uint8Array {
    const out = new Uint8Array(2 * password.length + 2);
    for (let i = 0; i < password.length; i++) {
        const unit = password.charCodeAt(i);
        out[2 * i] = unit >> 8;
        out[(2 * i) + 1] = unit & 0xff;
    }
    return out;
}

// Repeats data to fill a whole number of v-byte blocks (none for empty data).
function fillBlocks(data: Uint8Array, v: number): Uint8Array {
    const out = new Uint8Array(v * Math.ceil(data.length / v));
    for (let i = 0; i < out.length; i++) {
        out[i] = data[i % data.length];
    }
    return out;
}

async function sha1(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.digest('SHA-1', data as Uint8Array<ArrayBuffer>));
}

// RFC 7292, B.2, with SHA-1: n bytes derived from the password (already a
// BMPString) and salt for the purpose id.
export async function pkcs12KDF(id: number, password: Uint8Array, salt: Uint8Array, iterations: number, n: number): Promise<Uint8Array> {
    const u = SHA1_U;
    const v = SHA1_V;
    const D = new Uint8Array(v).fill(id);
    const I = new Uint8Array([...fillBlocks(salt, v), ...fillBlocks(password, v)]);
    const out = new Uint8Array(n);

    for (let done = 0; done < n;) {
        let A = await sha1(new Uint8Array([...D, ...I]));
        for (let r = 1; r < iterations; r++) {
            A = await sha1(A);
        }
        out.set(A.subarray(0, Math.min(u, n - done)), done);
        done += u;
        if (done >= n) {
            break;
        }

        // Each v-byte block of I becomes (I_j + B + 1) mod 2^(8v), where B
        // is A repeated to v bytes: big-endian addition with carry.
        const B = fillBlocks(A, v);
        for (let j = 0; j < I.length; j += v) {
            let carry = 1;
            for (let k = v - 1; k >= 0; k--) {
                const sum = I[j + k] + B[k] + carry;
                I[j + k] = sum & 0xff;
                carry = sum >> 8;
            }
        }
    }
    return out;
}

function tripleDESCBC(type: 'encrypt' | 'decrypt', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    const cipher = des.CBC.instantiate(des.EDE).create({type, key: Array.from(key), iv: Array.from(iv), padding: false});
    return new Uint8Array([...cipher.update(Array.from(data)), ...cipher.final()]);
}

async function deriveKeyAndIV(password: string, salt: Uint8Array, iterations: number): Promise<{key: Uint8Array, iv: Uint8Array}> {
    const bmp = bmpPassword(password);
    const key = await pkcs12KDF(ID_KEY, bmp, salt, iterations, TRIPLE_DES_KEY_BYTES);
    const iv = await pkcs12KDF(ID_IV, bmp, salt, iterations, DES_BLOCK_BYTES);
    return {key, iv};
}

export interface PBES1Options {
    password: string;
    iterations: number;
    saltLength: number;
}

// Encrypts plaintext with a new random salt. Returns the AlgorithmIdentifier
// (the OID and its PBEParameter: salt and iteration count) and the ciphertext.
export async function encryptPBES1(plaintext: Uint8Array, {password, iterations, saltLength}: PBES1Options): Promise<{algorithm: AlgorithmIdentifier, ciphertext: Uint8Array}> {
    const salt = crypto.getRandomValues(new Uint8Array(saltLength));
    const {key, iv} = await deriveKeyAndIV(password, salt, iterations);

    // PKCS #5 padding: 1 to 8 bytes, each the count.
    const pad = DES_BLOCK_BYTES - (plaintext.length % DES_BLOCK_BYTES);
    const padded = new Uint8Array(plaintext.length + pad);
    padded.set(plaintext);
    padded.fill(pad, plaintext.length);

    const algorithm = new AlgorithmIdentifier({
        algorithmId: OID_PBE_SHA1_3DES,
        algorithmParams: new asn1js.Sequence({
            value: [
                new asn1js.OctetString({valueHex: salt}),
                new asn1js.Integer({value: iterations}),
            ],
        }),
    });
    return {algorithm, ciphertext: tripleDESCBC('encrypt', key, iv, padded)};
}

// Decrypts what encryptPBES1 made (or any pbeWithSHAAnd3-KeyTripleDES-CBC
// ciphertext), given the salt and iteration count of its PBEParameter. For
// reading back a file in tests.
export async function decryptPBES1(ciphertext: Uint8Array, password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
    const {key, iv} = await deriveKeyAndIV(password, salt, iterations);
    const padded = tripleDESCBC('decrypt', key, iv, ciphertext);
    const pad = padded[padded.length - 1];
    if (pad < 1 || pad > DES_BLOCK_BYTES || padded.length < pad || padded.subarray(padded.length - pad).some((b) => b !== pad)) {
        throw new Error('wrong password or corrupt data (bad padding)');
    }
    return padded.subarray(0, padded.length - pad);
}

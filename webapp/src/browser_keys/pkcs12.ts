// PKCS #12 files made in the browser, like the server's (server/pki/pkcs12.go,
// go-pkcs12): the certificates in an encrypted SafeContents, the private key
// in a PKCS #8 ShroudedKeyBag, a password MAC over the whole.
import * as asn1js from 'asn1js';
import {
    type AlgorithmIdentifier,
    Attribute,
    AuthenticatedSafe,
    CertBag,
    ContentInfo,
    CryptoEngine,
    EncryptedContentInfo,
    EncryptedData,
    PFX,
    PKCS8ShroudedKeyBag,
    SafeBag,
    SafeContents,
} from 'pkijs';

import {decodePEM} from './pem';
import {encryptPBES1} from './pbes1';

// The server's setting of the same name.
export type PKCS12Format = 'compatible' | 'modern';

// The parameters of go-pkcs12's encoders the server uses (v0.7.4):
// LegacyDES for "compatible", Modern2023 for "modern". The passphrases are
// random (about 148 bits), so more rounds would only slow the browser down:
// the 600,000 PBKDF2 rounds some libraries default to are for passwords
// people choose.
export const PKCS12_PARAMETERS = {
    compatible: {
        // pbeWithSHAAnd3-KeyTripleDES-CBC for the key and the certificates.
        encryptionIterations: 2048,
        saltLength: 8,
        macHash: 'SHA-1',
        macIterations: 1,
    },
    modern: {
        // PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC for the key and the certificates.
        encryptionIterations: 2048,
        macHash: 'SHA-256',
        macIterations: 2048,
    },
} as const;

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const OID_PKCS8_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_X509_CERTIFICATE = '1.2.840.113549.1.9.22.1';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';

export interface BuildPKCS12Options {

    // The private key of the certificate, extractable (generateKeyAndCSR makes it so).
    privateKey: CryptoKey;

    // The leaf certificate followed by its chain, issuing CA first, as the
    // server's enrollment answer (certificate_pem) gives them.
    certificatePEM: string;
    passphrase: string;
    format: PKCS12Format;

    // The name key stores show for the key and its certificate.
    friendlyName?: string;
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
    return data.slice().buffer as ArrayBuffer;
}

// The engine PKI.js encrypts and MACs with: the browser's WebCrypto, given
// explicitly rather than through PKI.js's global one.
function engine(): CryptoEngine {
    return new CryptoEngine({name: 'webcrypto', crypto: globalThis.crypto});
}

// Encrypts the DER of plaintext as the format says.
async function encrypt(format: PKCS12Format, plaintext: Uint8Array, passphrase: string, cryptoEngine: CryptoEngine): Promise<{algorithm: AlgorithmIdentifier, ciphertext: Uint8Array}> {
    if (format === 'compatible') {
        const p = PKCS12_PARAMETERS.compatible;
        return encryptPBES1(plaintext, {password: passphrase, iterations: p.encryptionIterations, saltLength: p.saltLength});
    }
    const info = await cryptoEngine.encryptEncryptedContentInfo({
        password: toArrayBuffer(new TextEncoder().encode(passphrase)),
        
        // The IV here is a placeholder the engine replaces with a random one.
        contentEncryptionAlgorithm: {name: 'AES-CBC', length: 256, iv: new Uint8Array(16)},
        hmacHashAlgorithm: 'SHA-256',
        iterationCount: PKCS12_PARAMETERS.modern.encryptionIterations,
        contentToEncrypt: toArrayBuffer(plaintext),
        contentType: OID_DATA,
    });
    return {algorithm: info.contentEncryptionAlgorithm, ciphertext: new Uint8Array(info.getEncryptedContent())};
}

function bagAttributes(localKeyID: Uint8Array, friendlyName: string | undefined): Attribute[] {
    const attributes = [new Attribute({type: OID_LOCAL_KEY_ID, values: [new asn1js.OctetString({valueHex: localKeyID})]})];
    if (friendlyName) {
        attributes.push(new Attribute({type: OID_FRIENDLY_NAME, values: [new asn1js.BmpString({value: friendlyName})]}));
    }
    return attributes;
}

function checkFormat(format: unknown): asserts format is PKCS12Format {
    if (format !== 'compatible' && format !== 'modern') {
        throw new Error(`unknown PKCS#12 format "${String(format)}" (accepted: compatible, modern)`);
    }
}

// Makes a PKCS #12 file of the private key, its certificate and the chain,
// protected by passphrase, in the browser. The leaf certificate and the key
// carry the same localKeyID (the SHA-1 of the certificate, as go-pkcs12 and
// OpenSSL make it) and friendlyName, which is how Windows and macOS pair them.
export async function buildPKCS12({privateKey, certificatePEM, passphrase, format, friendlyName}: BuildPKCS12Options): Promise<Uint8Array> {
    checkFormat(format);
    if (!passphrase) {
        throw new Error('a PKCS#12 file needs a passphrase');
    }
    const certificates = decodePEM(certificatePEM).filter((b) => b.type === 'CERTIFICATE').map((b) => b.der);
    if (certificates.length === 0) {
        throw new Error('no certificate in the PEM text');
    }
    const cryptoEngine = engine();

    const localKeyID = new Uint8Array(await crypto.subtle.digest('SHA-1', certificates[0] as Uint8Array<ArrayBuffer>));
    const attributes = bagAttributes(localKeyID, friendlyName);

    // The certificates, leaf first, in one SafeContents encrypted as a whole.
    const certBags = certificates.map((der, i) => new SafeBag({
        bagId: OID_CERT_BAG,
        bagValue: new CertBag({certId: OID_X509_CERTIFICATE, certValue: new asn1js.OctetString({valueHex: der})}),
        bagAttributes: i === 0 ? attributes : undefined,
    }));
    const certsPlain = new Uint8Array(new SafeContents({safeBags: certBags}).toSchema().toBER(false));
    const certsEncrypted = await encrypt(format, certsPlain, passphrase, cryptoEngine);
    const certsInfo = new ContentInfo({
        contentType: OID_ENCRYPTED_DATA,
        content: new EncryptedData({
            version: 0,
            encryptedContentInfo: new EncryptedContentInfo({
                contentType: OID_DATA,
                contentEncryptionAlgorithm: certsEncrypted.algorithm,
                encryptedContent: new asn1js.OctetString({valueHex: certsEncrypted.ciphertext}),
                disableSplit: true,
            } as ConstructorParameters<typeof EncryptedContentInfo>[0]),
        }).toSchema(),
    });

    // The key, encrypted on its own (EncryptedPrivateKeyInfo), in a plain
    // SafeContents.
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
    const keyEncrypted = await encrypt(format, pkcs8, passphrase, cryptoEngine);
    pkcs8.fill(0);
    const keyBag = new SafeBag({
        bagId: OID_PKCS8_SHROUDED_KEY_BAG,
        bagValue: new PKCS8ShroudedKeyBag({
            encryptionAlgorithm: keyEncrypted.algorithm,
            encryptedData: new asn1js.OctetString({valueHex: keyEncrypted.ciphertext}),
        }),
        bagAttributes: attributes,
    });
    const keyInfo = new ContentInfo({
        contentType: OID_DATA,
        content: new asn1js.OctetString({valueHex: new SafeContents({safeBags: [keyBag]}).toSchema().toBER(false)}),
    });

    // The MAC over both, with the passphrase.
    const params = PKCS12_PARAMETERS[format];
    const pfx = new PFX({
        parsedValue: {
            integrityMode: 0,
            authenticatedSafe: new AuthenticatedSafe({safeContents: [certsInfo, keyInfo]}),
        },
    });
    await pfx.makeInternalValues({
        password: toArrayBuffer(new TextEncoder().encode(passphrase)),
        iterations: params.macIterations,
        pbkdf2HashAlgorithm: {name: params.macHash},
        hmacHashAlgorithm: params.macHash,
    }, cryptoEngine);

    return new Uint8Array(pfx.toSchema().toBER(false));
}

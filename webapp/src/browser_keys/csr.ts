// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata API before the library loads.
import 'reflect-metadata';

import * as x509 from '@peculiar/x509';

import {DEFAULT_KEY_TYPE, keyAlgorithm, type KeyType} from './key_types';

export interface GenerateKeyAndCSROptions {
    keyType?: KeyType;
    commonName: string;

    // The holder's email addresses, asked for as subject alternative names:
    // a CA that signs a request's own names (step-ca) wants them there.
    emails?: string[];
}

export interface KeyAndCSR {

    // The private key can sign and nothing else. It is extractable because
    // buildPKCS12 has to export it (PKCS #8) to put it in the file; it never
    // leaves the browser otherwise.
    keys: CryptoKeyPair;

    // The PKCS #10 certificate request, PEM ("CERTIFICATE REQUEST").
    csrPEM: string;
}

// Makes a key pair with WebCrypto and a certificate request for it, signed by
// its private key, whose subject is the common name (and email addresses, as
// subject alternative names). The server decides what the certificate says:
// the request carries the public key, the proof that its holder has the
// private one, and the names a CA that signs requests as they are needs.
export async function generateKeyAndCSR({keyType = DEFAULT_KEY_TYPE, commonName, emails = []}: GenerateKeyAndCSROptions): Promise<KeyAndCSR> {
    const algorithm = keyAlgorithm(keyType);
    if (!commonName) {
        throw new Error('a certificate request needs a common name');
    }

    const keys = await crypto.subtle.generateKey(algorithm.generate, true, ['sign', 'verify']) as CryptoKeyPair;

    const csr = await x509.Pkcs10CertificateRequestGenerator.create({

        // A JSON name rather than a string: a common name with commas, plus
        // signs or quotes needs no escaping. UTF8String, what RFC 5280 asks of
        // new certificates, whatever the characters.
        name: new x509.Name([{CN: [{utf8String: commonName}]}]),
        keys,
        signingAlgorithm: algorithm.sign,
        extensions: emails.length > 0 ? [new x509.SubjectAlternativeNameExtension(emails.map((value) => ({type: 'email' as const, value})))] : [],
    });

    return {keys, csrPEM: csr.toString('pem')};
}

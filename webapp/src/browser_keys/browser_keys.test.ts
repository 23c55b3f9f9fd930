/**
 * @jest-environment node
 */
/// <reference types="node" />
// Node's WebCrypto (globalThis.crypto) stands in for the browser's. The files
// made here are opened by the real readers: OpenSSL 3 and NSS (pk12util).
import {execFileSync, spawnSync} from 'child_process';
import {createCipheriv, randomBytes} from 'crypto';
import {mkdtempSync, rmSync, writeFileSync} from 'fs';
import {tmpdir} from 'os';
import {join} from 'path';

import 'reflect-metadata';

import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import * as x509 from '@peculiar/x509';

import {bmpPassword, decryptPBES1, encryptPBES1, pkcs12KDF} from './pbes1';
import {decodePEM, encodePEM} from './pem';

import {buildPKCS12, generateKeyAndCSR, KEY_TYPES, newPassphrase, PKCS12_PARAMETERS, type KeyType, type PKCS12Format} from './index';

function have(tool: string): boolean {
    return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

// A test that needs tools fails under CI when they are missing (CI installs
// them: build/install-deps.sh) and is skipped elsewhere.
const haveOpenSSL = have('openssl');
const haveNSS = have('pk12util') && have('certutil');
if (process.env.CI && (!haveOpenSSL || !haveNSS)) {
    throw new Error('openssl, pk12util and certutil are needed (apt-get install -y openssl libnss3-tools)');
}
const withOpenSSL = haveOpenSSL ? it : it.skip;
const withOpenSSLAndNSS = haveOpenSSL && haveNSS ? it : it.skip;

function run(cmd: string, args: string[], input?: string): string {
    return execFileSync(cmd, args, {input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']});
}

let dir: string;

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'browser-keys-'));
});

afterAll(() => {
    rmSync(dir, {recursive: true, force: true});
});

// A throwaway two-level CA: the chain the server would send is the issuing
// CA, then the root.
interface CA {
    root: x509.X509Certificate;
    issuing: x509.X509Certificate;
    issuingKeys: CryptoKeyPair;
}

const EC_P256 = {name: 'ECDSA', namedCurve: 'P-256'};
const SIGN_ECDSA_SHA256 = {name: 'ECDSA', hash: 'SHA-256'};

async function makeCA(): Promise<CA> {
    const rootKeys = await crypto.subtle.generateKey(EC_P256, false, ['sign', 'verify']) as CryptoKeyPair;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
        name: 'CN=Test Root CA',
        keys: rootKeys,
        signingAlgorithm: SIGN_ECDSA_SHA256,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        extensions: [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ],
    });
    const issuingKeys = await crypto.subtle.generateKey(EC_P256, false, ['sign', 'verify']) as CryptoKeyPair;
    const issuing = await x509.X509CertificateGenerator.create({
        subject: 'CN=Test Issuing CA',
        issuer: root.subject,
        publicKey: issuingKeys.publicKey,
        signingKey: rootKeys.privateKey,
        signingAlgorithm: SIGN_ECDSA_SHA256,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ],
    });
    return {root, issuing, issuingKeys};
}

// What the server does with a request: check its signature and issue a
// client certificate for its public key. Returns certificate_pem as the
// server answers it: leaf, issuing CA, root.
async function sign(ca: CA, csrPEM: string, commonName: string): Promise<{leaf: x509.X509Certificate, certificatePEM: string}> {
    const csr = new x509.Pkcs10CertificateRequest(csrPEM);
    expect(await csr.verify()).toBe(true);
    const leaf = await x509.X509CertificateGenerator.create({
        subject: new x509.Name([{CN: [{utf8String: commonName}]}]),
        issuer: ca.issuing.subject,
        publicKey: csr.publicKey,
        signingKey: ca.issuingKeys.privateKey,
        signingAlgorithm: SIGN_ECDSA_SHA256,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ],
    });
    return {leaf, certificatePEM: [leaf, ca.issuing, ca.root].map((c) => c.toString('pem')).join('\n')};
}

function spkiPEM(cert: x509.X509Certificate): string {
    return encodePEM('PUBLIC KEY', new Uint8Array(cert.publicKey.rawData));
}

let ca: CA;
beforeAll(async () => {
    ca = await makeCA();
});

let fileCount = 0;
function writeTemp(name: string, data: string | Uint8Array): string {
    const path = join(dir, `${++fileCount}-${name}`);
    writeFileSync(path, data);
    return path;
}

// The whole path for one key type and format: key and request, the request
// checked by OpenSSL, signed, the PKCS #12 made and opened by OpenSSL.
async function enroll(keyType: KeyType, format: PKCS12Format) {
    const commonName = `Jane Doe, ${keyType} + ${format}`;
    const {keys, csrPEM} = await generateKeyAndCSR({keyType, commonName});
    const {leaf, certificatePEM} = await sign(ca, csrPEM, commonName);
    const passphrase = newPassphrase();
    const friendlyName = `certs ${keyType}`;
    const p12 = await buildPKCS12({privateKey: keys.privateKey, certificatePEM, passphrase, format, friendlyName});
    return {keys, csrPEM, leaf, certificatePEM, passphrase, friendlyName, p12, commonName};
}

type Enrollment = Awaited<ReturnType<typeof enroll>>;

// The request is well formed and self-signed (openssl req -verify), and
// carries the key the certificate was issued for.
function checkCSRWithOpenSSL(e: Enrollment) {
    const csrFile = writeTemp('req.pem', e.csrPEM);
    const verify = spawnSync('openssl', ['req', '-in', csrFile, '-verify', '-noout', '-subject', '-nameopt', 'utf8,sep_comma_plus'], {encoding: 'utf8'});
    expect(verify.status).toBe(0);
    expect(verify.stderr).toMatch(/verify OK/);
    expect(verify.stdout.trim()).toBe(`subject=CN=${e.commonName}`);
    const csrKey = run('openssl', ['req', '-in', csrFile, '-pubkey', '-noout']);
    expect(csrKey.trim()).toBe(spkiPEM(e.leaf).trim());
}

// OpenSSL 3 (no -legacy) opens the file with the passphrase: one key, the
// three certificates, the key is the certificate's, both bags carry
// localKeyID and friendlyName, and the algorithms and iteration counts are
// the server's.
function checkPKCS12WithOpenSSL(e: Enrollment, format: PKCS12Format) {
    const p12File = writeTemp(`${format}.p12`, e.p12);
    const pass = `pass:${e.passphrase}`;
    const out = run('openssl', ['pkcs12', '-in', p12File, '-passin', pass, '-nodes']);
    const blocks = decodePEM(out);
    const keys = blocks.filter((b) => b.type === 'PRIVATE KEY');
    const certs = blocks.filter((b) => b.type === 'CERTIFICATE');
    expect(keys).toHaveLength(1);
    expect(certs.map((c) => new x509.X509Certificate(c.der as Uint8Array<ArrayBuffer>).subject)).toEqual(
        expect.arrayContaining([e.leaf.subject, ca.issuing.subject, ca.root.subject]));
    expect(certs).toHaveLength(3);

    const keyPublic = run('openssl', ['pkey', '-pubout'], encodePEM('PRIVATE KEY', keys[0].der));
    expect(keyPublic.trim()).toBe(spkiPEM(e.leaf).trim());

    // Bag attributes: the key and the leaf share one localKeyID and the friendly name.
    const localKeyIDs = [...out.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1].trim());
    expect(localKeyIDs).toHaveLength(2);
    expect(localKeyIDs[0]).toBe(localKeyIDs[1]);
    expect([...out.matchAll(/friendlyName: (.*)/g)].map((m) => m[1])).toEqual([e.friendlyName, e.friendlyName]);

    const info = run('openssl', ['pkcs12', '-in', p12File, '-passin', pass, '-info', '-noout'], undefined) +
        spawnSync('openssl', ['pkcs12', '-in', p12File, '-passin', pass, '-info', '-noout'], {encoding: 'utf8'}).stderr;
    const p = PKCS12_PARAMETERS[format];
    if (format === 'compatible') {
        expect(info).toContain(`MAC: sha1, Iteration ${p.macIterations}`);
        expect(info).toContain(`PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration ${p.encryptionIterations}`);
        expect(info).toContain(`Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration ${p.encryptionIterations}`);
    } else {
        expect(info).toContain(`MAC: sha256, Iteration ${p.macIterations}`);
        expect(info).toContain(`PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration ${p.encryptionIterations}, PRF hmacWithSHA256`);
        expect(info).toContain(`Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration ${p.encryptionIterations}, PRF hmacWithSHA256`);
    }

    // A wrong passphrase fails the MAC.
    expect(spawnSync('openssl', ['pkcs12', '-in', p12File, '-passin', 'pass:wrong', '-nodes'], {encoding: 'utf8'}).status).not.toBe(0);
}

// NSS imports the file into a new database: the key, and the certificate
// under its friendly name.
function checkPKCS12WithNSS(e: Enrollment, format: PKCS12Format) {
    const p12File = writeTemp(`${format}-nss.p12`, e.p12);
    const db = `sql:${mkdtempSync(join(dir, 'nssdb-'))}`;
    run('certutil', ['-N', '-d', db, '--empty-password']);
    const out = run('pk12util', ['-i', p12File, '-d', db, '-W', e.passphrase]);
    expect(out).toContain('PKCS12 IMPORT SUCCESSFUL');
    expect(run('certutil', ['-K', '-d', db])).toContain(e.friendlyName);
    const leaf = run('certutil', ['-L', '-d', db, '-n', e.friendlyName, '-a']);
    expect(new x509.X509Certificate(leaf).equal(e.leaf)).toBe(true);
}

describe('generateKeyAndCSR', () => {
    it('makes an ECDSA P-256 key by default, its private half extractable for the PKCS#12 and only able to sign', async () => {
        const {keys, csrPEM} = await generateKeyAndCSR({commonName: 'someone'});
        expect(keys.privateKey.algorithm).toMatchObject({name: 'ECDSA', namedCurve: 'P-256'});
        expect(keys.privateKey.usages).toEqual(['sign']);
        expect(keys.privateKey.extractable).toBe(true);
        const csr = new x509.Pkcs10CertificateRequest(csrPEM);
        expect(await csr.verify()).toBe(true);
        expect(csr.subject).toBe('CN=someone');
        expect(csr.signatureAlgorithm).toMatchObject({name: 'ECDSA', hash: {name: 'SHA-256'}});
    });

    it.each([
        ['ecdsa-p384', {name: 'ECDSA', hash: {name: 'SHA-384'}}],
        ['rsa-2048', {name: 'RSASSA-PKCS1-v1_5', hash: {name: 'SHA-256'}}],
    ] as const)('signs a %s request with %o', async (keyType, algorithm) => {
        const {csrPEM} = await generateKeyAndCSR({keyType, commonName: 'someone'});
        const csr = new x509.Pkcs10CertificateRequest(csrPEM);
        expect(await csr.verify()).toBe(true);
        expect(csr.signatureAlgorithm).toMatchObject(algorithm);
    });

    it('asks for the holder\'s email addresses as subject alternative names, and for none when there are none', async () => {
        const {csrPEM} = await generateKeyAndCSR({commonName: 'someone', emails: ['someone@example.com']});
        const csr = new x509.Pkcs10CertificateRequest(csrPEM);
        expect(await csr.verify()).toBe(true);
        const san = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as x509.SubjectAlternativeNameExtension | undefined;
        expect(san?.names.toJSON()).toEqual([{type: 'email', value: 'someone@example.com'}]);

        const bare = new x509.Pkcs10CertificateRequest((await generateKeyAndCSR({commonName: 'someone'})).csrPEM);
        expect(bare.extensions.some((e) => e instanceof x509.SubjectAlternativeNameExtension)).toBe(false);
    });

    it('rejects an unknown key type and an empty common name', async () => {
        await expect(generateKeyAndCSR({keyType: 'dsa-1024' as KeyType, commonName: 'x'})).rejects.toThrow('unknown key type');
        await expect(generateKeyAndCSR({commonName: ''})).rejects.toThrow('common name');
    });
});

describe('newPassphrase', () => {
    it('has the form of the server\'s: 6 groups of 5 from its alphabet', () => {
        const seen = new Set<string>();
        for (let i = 0; i < 200; i++) {
            const p = newPassphrase();
            expect(p).toMatch(/^[2-9a-hjkmnp-z]{5}(-[2-9a-hjkmnp-z]{5}){5}$/);
            seen.add(p);
        }
        expect(seen.size).toBe(200);
    });
});

describe('pbeWithSHAAnd3-KeyTripleDES-CBC', () => {
    // OpenSSL's PKCS12KDF takes the password already as a BMPString.
    withOpenSSL('derives the key and IV as OpenSSL\'s PKCS12KDF does', async () => {
        const password = 'abcde-23456';
        const salt = randomBytes(8);
        for (const [id, n] of [[1, 24], [2, 8], [3, 20]]) {
            const ours = await pkcs12KDF(id, bmpPassword(password), new Uint8Array(salt), 2048, n);
            const theirs = run('openssl', ['kdf', '-keylen', String(n), '-kdfopt', 'digest:SHA1', '-kdfopt', `hexpass:${Buffer.from(bmpPassword(password)).toString('hex')}`,
                '-kdfopt', `hexsalt:${salt.toString('hex')}`, '-kdfopt', 'iter:2048', '-kdfopt', `id:${id}`, 'PKCS12KDF']);
            expect(Buffer.from(ours).toString('hex')).toBe(theirs.trim().replace(/:/g, '').toLowerCase());
        }
    });

    it('encrypts as Node\'s des-ede3-cbc does with the derived key and IV, and decrypts back', async () => {
        const plaintext = new Uint8Array(randomBytes(45));
        const {algorithm, ciphertext} = await encryptPBES1(plaintext, {password: 'pw', iterations: 3, saltLength: 8});
        expect(algorithm.algorithmId).toBe('1.2.840.113549.1.12.1.3');
        const [saltNode, iterNode] = (algorithm.algorithmParams as {valueBlock: {value: Array<{valueBlock: {valueHexView: Uint8Array, valueDec: number}}>}}).valueBlock.value;
        const salt = new Uint8Array(saltNode.valueBlock.valueHexView);
        expect(salt).toHaveLength(8);
        expect(iterNode.valueBlock.valueDec).toBe(3);

        const key = await pkcs12KDF(1, bmpPassword('pw'), salt, 3, 24);
        const iv = await pkcs12KDF(2, bmpPassword('pw'), salt, 3, 8);
        const cipher = createCipheriv('des-ede3-cbc', key, iv);
        const expected = Buffer.concat([cipher.update(plaintext), cipher.final()]);
        expect(Buffer.from(ciphertext).toString('hex')).toBe(expected.toString('hex'));

        expect(await decryptPBES1(ciphertext, 'pw', salt, 3)).toEqual(plaintext);
        await expect(decryptPBES1(ciphertext, 'wrong', salt, 3)).rejects.toThrow();
    });
});

describe('buildPKCS12', () => {
    // Each key type at least once, both formats for the default key and RSA.
    const cases: Array<[KeyType, PKCS12Format]> = [
        ['ecdsa-p256', 'compatible'],
        ['ecdsa-p256', 'modern'],
        ['ecdsa-p384', 'compatible'],
        ['rsa-2048', 'compatible'],
        ['rsa-2048', 'modern'],
        ['rsa-3072', 'modern'],
    ];

    withOpenSSLAndNSS.each(cases)('%s, %s: OpenSSL and NSS import it', async (keyType, format) => {
        const e = await enroll(keyType, format);
        checkCSRWithOpenSSL(e);
        checkPKCS12WithOpenSSL(e, format);
        checkPKCS12WithNSS(e, format);
    }, 60_000);

    // Making an RSA 4096 key can take many seconds: one test, a long timeout.
    withOpenSSLAndNSS('rsa-4096, compatible: OpenSSL and NSS import it', async () => {
        const e = await enroll('rsa-4096', 'compatible');
        checkCSRWithOpenSSL(e);
        checkPKCS12WithOpenSSL(e, 'compatible');
        checkPKCS12WithNSS(e, 'compatible');
    }, 180_000);

    it('covers every key type the server knows', () => {
        expect([...KEY_TYPES].sort()).toEqual([...new Set([...cases.map((c) => c[0]), 'rsa-4096'])].sort());
    });

    it('rejects an unknown format, an empty passphrase and PEM text without a certificate', async () => {
        const {keys, csrPEM} = await generateKeyAndCSR({commonName: 'x'});
        const {certificatePEM} = await sign(ca, csrPEM, 'x');
        const base = {privateKey: keys.privateKey, certificatePEM, passphrase: 'p', format: 'modern' as PKCS12Format};
        await expect(buildPKCS12({...base, format: 'rc2' as PKCS12Format})).rejects.toThrow('unknown PKCS#12 format');
        await expect(buildPKCS12({...base, passphrase: ''})).rejects.toThrow('passphrase');
        await expect(buildPKCS12({...base, certificatePEM: csrPEM})).rejects.toThrow('no certificate');
    });
});

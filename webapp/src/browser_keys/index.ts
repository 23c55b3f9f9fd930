// Keys made in the browser: the key pair, its certificate request and, once
// the server has signed the request, a PKCS #12 file of the key and the
// certificates, all made here. The private key and the file never leave the
// browser. Pure TypeScript over WebCrypto, @peculiar/x509 and PKI.js, loaded
// on demand (see load.ts): it knows nothing of React or of the plugin.

export {generateKeyAndCSR, type GenerateKeyAndCSROptions, type KeyAndCSR} from './csr';
export {DEFAULT_KEY_TYPE, KEY_TYPES, isKeyType, type KeyType} from './key_types';
export {newPassphrase} from './passphrase';
export {buildPKCS12, PKCS12_PARAMETERS, type BuildPKCS12Options, type PKCS12Format} from './pkcs12';

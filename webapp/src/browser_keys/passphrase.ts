// The same passphrases as the server makes for its PKCS #12 files
// (server/pki/passphrase.go): 6 groups of 5 characters from a 31-symbol
// alphabet with nothing that reads alike (no 0/o, 1/l/i, no upper case),
// joined by hyphens: 30 × log2(31) ≈ 148 bits.
export const PASSPHRASE_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
const GROUPS = 6;
const GROUP_CHARS = 5;

// Returns a new random passphrase. Each symbol takes five random bits and a
// draw of 31 (the one value with no symbol) is thrown away, so every symbol
// is equally likely: a byte modulo 31 would favour some.
export function newPassphrase(): string {
    const symbols = GROUPS * GROUP_CHARS;
    let out = '';
    let drawn = 0;
    const random = new Uint8Array(2 * symbols);
    while (drawn < symbols) {
        crypto.getRandomValues(random);
        for (const byte of random) {
            const v = byte & 0x1f;
            if (v >= PASSPHRASE_ALPHABET.length) {
                continue;
            }
            if (drawn > 0 && drawn % GROUP_CHARS === 0) {
                out += '-';
            }
            out += PASSPHRASE_ALPHABET[v];
            drawn++;
            if (drawn === symbols) {
                break;
            }
        }
    }
    return out;
}

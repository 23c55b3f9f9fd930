// Checks the built webapp (dist/) after `npm run build`:
//
// - main.js, which Mattermost loads on every page, is at most 150 KB gzipped;
// - the code that makes keys in the browser (src/browser_keys and its
//   libraries) is not in main.js but in its own chunk, browser-keys.<hash>.js,
//   loaded only when chosen (src/browser_keys/load.ts).
//
// Exits non-zero with the reason when a check fails.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const MAIN_LIMIT = 150 * 1024;

// Strings only the browser-keys code and its libraries carry: the OID of the
// 3DES PKCS#12 encryption (pbes1.ts), PKI.js's class name of the shrouded key
// bag and the error tsyringe (under @peculiar/x509) throws without Reflect
// metadata. Minifying keeps string literals.
const MARKERS = [
    '1.2.840.113549.1.12.1.3',
    'PKCS8ShroudedKeyBag',
    'tsyringe requires a reflect polyfill',
];

const dist = path.join(__dirname, '..', 'dist');
const failures = [];

function gzipSize(file) {
    return zlib.gzipSync(fs.readFileSync(file), {level: 9}).length;
}

function kb(bytes) {
    return `${(bytes / 1024).toFixed(1)} KB`;
}

const mainFile = path.join(dist, 'main.js');
if (!fs.existsSync(mainFile)) {
    console.error(`${mainFile} is missing: run npm run build first`);
    process.exit(1);
}
const main = fs.readFileSync(mainFile, 'utf8');
const mainGzip = gzipSize(mainFile);
console.log(`main.js: ${kb(main.length)}, ${kb(mainGzip)} gzipped (limit ${kb(MAIN_LIMIT)})`);
if (mainGzip > MAIN_LIMIT) {
    failures.push(`main.js is ${kb(mainGzip)} gzipped, over the limit of ${kb(MAIN_LIMIT)}: load what not every page needs with import()`);
}

for (const marker of MARKERS) {
    if (main.includes(marker)) {
        failures.push(`main.js contains "${marker}": the browser-keys code must only be reached through loadBrowserKeys() (src/browser_keys/load.ts)`);
    }
}

// Once the web app loads the module (its chunk name is in main.js's
// runtime), the chunk must exist and hold that code.
const chunks = fs.readdirSync(dist).filter((f) => (/^browser-keys\.[0-9a-f]+\.js$/).test(f));
if (main.includes('browser-keys')) {
    if (chunks.length !== 1) {
        failures.push(`main.js loads a browser-keys chunk, but dist/ has ${chunks.length} of them: ${chunks.join(', ') || 'none'}`);
    } else {
        const chunkFile = path.join(dist, chunks[0]);
        const chunk = fs.readFileSync(chunkFile, 'utf8');
        console.log(`${chunks[0]}: ${kb(chunk.length)}, ${kb(gzipSize(chunkFile))} gzipped (loaded on demand)`);
        const missing = MARKERS.filter((m) => !chunk.includes(m));
        if (missing.length) {
            failures.push(`${chunks[0]} lacks ${missing.map((m) => `"${m}"`).join(', ')}: update MARKERS in ${path.relative(process.cwd(), __filename)}`);
        }
    }
} else {
    console.log('browser-keys chunk: not used by the web app yet (nothing calls loadBrowserKeys)');
}

if (failures.length) {
    for (const f of failures) {
        console.error(`check-bundle-size: ${f}`);
    }
    process.exit(1);
}

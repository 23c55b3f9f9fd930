// Writes src/manifest.ts from ../plugin.json, in the same format as the
// repository's build tooling (`make apply`), so that the npm scripts also work
// on their own in a fresh clone. The file is generated and never committed.
//
// It is only (re)written when missing or older than plugin.json, so a file
// just written by `make apply` is left as it is.
const fs = require('fs');
const path = require('path');

const pluginJSONPath = path.join(__dirname, '..', '..', 'plugin.json');
const manifestPath = path.join(__dirname, '..', 'src', 'manifest.ts');

function isUpToDate() {
    try {
        return fs.statSync(manifestPath).mtimeMs >= fs.statSync(pluginJSONPath).mtimeMs;
    } catch {
        return false;
    }
}

// The JSON ends up inside a JS template literal: backslashes, backticks and
// "${" would otherwise be interpreted by JavaScript before JSON.parse sees them.
function escapeForTemplateLiteral(text) {
    return text.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
}

if (!isUpToDate()) {
    const manifest = JSON.parse(fs.readFileSync(pluginJSONPath, 'utf8'));
    const json = escapeForTemplateLiteral(JSON.stringify(manifest, null, 4));
    const source = [
        '// Generated from plugin.json by build/manifest. Do not edit.',
        'const manifest = JSON.parse(`',
        json,
        '`);',
        'export default manifest;',
        'export const id = manifest.id;',
        'export const version = manifest.version;',
        '',
    ].join('\n');
    fs.writeFileSync(manifestPath, source);
    console.log(`wrote ${path.relative(process.cwd(), manifestPath)} from plugin.json`);
}

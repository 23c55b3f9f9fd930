// Builds the host page: a stand-in for the Mattermost web app that loads the
// plugins' webapp bundles from a real server (see README.md in this folder).
// Output, laid out like the server's client directory:
//   dist/root.html               what the server answers for / and other pages
//   dist/certs-host/host.js|css  served by the server under /static/certs-host/
import {createHash} from 'node:crypto';
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const assets = path.join(dist, 'certs-host');

await rm(dist, {recursive: true, force: true});
await mkdir(assets, {recursive: true});

await esbuild.build({
    entryPoints: {host: path.join(here, 'src', 'index.tsx')},
    outdir: assets,
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    define: {'process.env.NODE_ENV': '"production"'},
    jsx: 'transform',
    logLevel: 'warning',
});

// The Content-Security-Policy meta tag is the one the web app's root.html
// has: the server rewrites it when the site has a subpath, and fails to start
// its static files' handling cleanly without it.
// The server lets browsers cache /static/ files for a year: the query string
// changes with the content, so a rebuilt page is loaded at once.
const version = async (file) => createHash('sha256').update(await readFile(path.join(assets, file))).digest('hex').slice(0, 12);
const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="script-src 'self'">
<title>Plugin host page</title>
<link rel="stylesheet" href="/static/certs-host/host.css?v=${await version('host.css')}">
<script defer src="/static/certs-host/host.js?v=${await version('host.js')}"></script>
</head>
<body>
<div id="root"></div>
<noscript>This page needs JavaScript.</noscript>
</body>
</html>
`;
await writeFile(path.join(dist, 'root.html'), html);
console.log(`host page written to ${path.relative(process.cwd(), dist)}/`);

const path = require('path');

const {id: pluginId} = require('../plugin.json');

module.exports = (env, argv) => ({
    mode: argv.mode === 'development' ? 'development' : 'production',
    entry: './src/index.tsx',
    resolve: {
        extensions: ['.ts', '.tsx', '.js', '.json'],
    },
    module: {
        rules: [
            {
                test: /\.(ts|tsx|js)$/,
                exclude: /node_modules/,
                use: {
                    loader: 'babel-loader',
                    options: {cacheDirectory: true},
                },
            },
        ],
    },

    // The Mattermost web app provides these as globals. Bundling our own copy
    // would give the plugin a second React, which breaks hooks and context.
    externals: {
        react: 'React',
        'react-dom': 'ReactDOM',
        redux: 'Redux',
        'react-redux': 'ReactRedux',
    },
    output: {
        path: path.join(__dirname, 'dist'),

        // Mattermost loads main.js on every page. What only some users need
        // (making keys in the browser: src/browser_keys/load.ts) goes into
        // chunks loaded by import(), named after webpackChunkName plus a hash
        // of their content: Mattermost serves plugin files with a one-year
        // cache lifetime, so a changed chunk must get a new name.
        filename: 'main.js',
        chunkFilename: '[name].[contenthash:8].js',

        // Set at run time instead (src/public_path.ts): the site's subpath is
        // only known in the browser.
        publicPath: '',

        // The global through which chunks register: the page has Mattermost's
        // own webpack runtime and other plugins' ones.
        uniqueName: `mattermost-plugin-${pluginId}`,
        clean: true,
    },
    optimization: {

        // One chunk for each import(), with its libraries: no separate
        // "vendors" chunk with a numeric name, and one request when the user
        // chooses to make a key in the browser.
        splitChunks: {
            cacheGroups: {default: false, defaultVendors: false},
        },
    },

    // Only main.js is on every page's path (scripts/check-bundle-size.js
    // enforces its limit); lazily loaded chunks may be big.
    performance: {
        assetFilter: (name) => name === 'main.js',
    },
    devtool: argv.mode === 'development' ? 'eval-source-map' : false,
});

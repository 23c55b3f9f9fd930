const path = require('path');

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
        filename: 'main.js',
        clean: true,
    },
    devtool: argv.mode === 'development' ? 'eval-source-map' : false,
});

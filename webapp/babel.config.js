// Shared by webpack (browser bundle) and jest (node), which is why it is a
// babel.config.js rather than loader options.
module.exports = (api) => {
    const isTest = api.env('test');
    api.cache.using(() => isTest);

    return {
        presets: [
            ['@babel/preset-env', {
                // Browsers Mattermost supports; explicit so no browserslist data is needed.
                targets: isTest ? {node: 'current'} : {chrome: '110', edge: '110', firefox: '115', safari: '16.4'},
                bugfixes: true,
            }],

            // Classic runtime: React comes from the host's window.React, and
            // react/jsx-runtime is not one of the globals it provides.
            ['@babel/preset-react', {runtime: 'classic'}],
            ['@babel/preset-typescript', {allowDeclareFields: true}],
        ],
    };
};

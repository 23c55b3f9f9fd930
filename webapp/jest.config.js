module.exports = {
    testEnvironment: 'jsdom',
    testEnvironmentOptions: {url: 'http://localhost:8065/'},
    roots: ['<rootDir>/src'],
    clearMocks: true,

    // What webpack provides in the bundle (src/public_path.ts sets it).
    globals: {__webpack_public_path__: ''},

    // PKI.js and the packages under it are published as ES modules only;
    // babel turns them into CommonJS for Jest like our own code.
    transformIgnorePatterns: [
        '/node_modules/(?!(pkijs|asn1js|bytestreamjs|@noble/hashes|@peculiar/utils)/)',
    ],
};

module.exports = {
    testEnvironment: 'jsdom',
    testEnvironmentOptions: {url: 'http://localhost:8065/'},
    roots: ['<rootDir>/src'],
    clearMocks: true,
};

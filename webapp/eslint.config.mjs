import js from '@eslint/js';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    {
        // manifest.ts is generated from plugin.json.
        ignores: ['dist/', 'host/dist/', 'node_modules/', 'src/manifest.ts'],
    },
    {
        files: ['src/**/*.{ts,tsx}', 'host/src/**/*.{ts,tsx}'],
        extends: [
            js.configs.recommended,
            tseslint.configs.recommended,
            react.configs.flat.recommended,
            reactHooks.configs['recommended-latest'],
        ],
        settings: {
            // The host's React: 17 up to Mattermost 10, 18 from 11.
            react: {version: '17.0'},
        },
        rules: {
            // Props are typed by TypeScript.
            'react/prop-types': 'off',
            curly: 'error',
            eqeqeq: 'error',
            'no-console': 'error',
            '@typescript-eslint/consistent-type-imports': ['error', {fixStyle: 'inline-type-imports'}],
        },
    },
    {
        // The host page's build script runs in Node.
        files: ['host/build.mjs'],
        extends: [js.configs.recommended],
        languageOptions: {globals: {console: 'readonly', process: 'readonly'}},
    },
);

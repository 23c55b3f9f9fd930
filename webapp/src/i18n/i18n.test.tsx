import {describe, expect, it} from '@jest/globals';
import {render} from '@testing-library/react';
import React from 'react';

import {formatMessage, t, tf} from '.';

describe('i18n', () => {
    it('looks messages up by id', () => {
        expect(t('modal.title')).toBe('Client certificates');
    });

    it('puts text in place of placeholders', () => {
        expect(tf('result.download_p12', {file: 'alice.p12'})).toBe('Download alice.p12');
        expect(tf('result.download_p12', {})).toBe('Download {file}');
    });

    it('puts React nodes in place of placeholders, as elements not HTML', () => {
        const {container} = render(<p>{formatMessage('result.download_p12', {file: <code>{'<b>x</b>'}</code>})}</p>);
        expect(container.querySelector('code')?.textContent).toBe('<b>x</b>');
        expect(container.querySelector('b')).toBeNull();
        expect(container.textContent).toBe('Download <b>x</b>');
    });

    it('leaves an unknown placeholder visible', () => {
        const {container} = render(<p>{formatMessage('result.download_p12', {})}</p>);
        expect(container.textContent).toBe('Download {file}');
    });
});

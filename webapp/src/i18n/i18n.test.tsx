import {describe, expect, it} from '@jest/globals';
import {render} from '@testing-library/react';
import React from 'react';

import {formatMessage, t} from '.';

describe('i18n', () => {
    it('looks messages up by id', () => {
        expect(t('info_modal.title')).toBe('About client certificates');
    });

    it('puts React nodes in place of placeholders, as elements not HTML', () => {
        const {container} = render(<p>{formatMessage('info_modal.manage.help', {command: <code>{'<b>x</b>'}</code>})}</p>);
        expect(container.querySelector('code')?.textContent).toBe('<b>x</b>');
        expect(container.querySelector('b')).toBeNull();
        expect(container.textContent).toBe('<b>x</b> shows every command and option.');
    });

    it('leaves an unknown placeholder visible', () => {
        const {container} = render(<p>{formatMessage('info_modal.manage.help', {})}</p>);
        expect(container.textContent).toBe('{command} shows every command and option.');
    });
});

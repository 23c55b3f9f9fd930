import {describe, expect, it} from '@jest/globals';

import {formatText, t} from '.';

describe('i18n', () => {
    it('looks messages up by id', () => {
        expect(t('modal.title')).toBe('Client certificates');
    });

    it('puts text in place of placeholders', () => {
        expect(formatText('result.download_p12', {file: 'alice.p12'})).toBe('Download alice.p12');
    });

    it('leaves an unknown placeholder visible', () => {
        expect(formatText('result.download_p12', {})).toBe('Download {file}');
    });
});

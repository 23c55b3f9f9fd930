import {describe, expect, it} from '@jest/globals';

import {describeJSONError, parseCatalog, placeOf, serializeCatalog, setPath} from './catalog';

describe('catalog', () => {
    it('says where JSON is wrong', () => {
        const text = '{\n  "profiles": [\n    {"name": "vpn",}\n  ]\n}';
        const result = parseCatalog(text);
        expect(result.ok).toBe(false);
        expect(!result.ok && result.error).toMatch(/^Line 3, column 20: /);
        expect(describeJSONError('x', new Error('no position here'))).toBe('no position here');
    });

    it('reads empty as the default catalog and writes it back empty', () => {
        expect(parseCatalog('  ')).toEqual({ok: true, doc: {}});
        expect(serializeCatalog({connectors: [], profiles: []})).toBe('');
        expect(serializeCatalog({profiles: [], default_profile: 'x'})).not.toBe('');
        expect(parseCatalog('[]').ok).toBe(false);
        expect(parseCatalog('{"profiles": {}}').ok).toBe(false);
    });

    it('sets and removes nested keys, keeping the others', () => {
        const entry = {name: 'a', subject: {common_name: 'email', country: 'NL'}};
        expect(setPath(entry, 'subject.email_san', false)).toEqual({name: 'a', subject: {common_name: 'email', country: 'NL', email_san: false}});
        expect(setPath({name: 'a', access: {guests: true}}, 'access.guests', undefined)).toEqual({name: 'a'});
        expect(setPath(entry, 'subject.common_name', undefined)).toEqual({name: 'a', subject: {country: 'NL'}});
    });

    it('places a server message on a field the form shows', () => {
        const doc = {connectors: [{name: 'l', type: 'builtin'}, {name: 's', type: 'stepca', stepca: {}}], profiles: [{name: 'p'}]};
        expect(placeOf('profiles[0].validity_days', doc)).toBe('profiles[0].validity_days');
        expect(placeOf('profiles[0].subject.email_san', doc)).toBe('profiles[0].subject.email_san');
        expect(placeOf('profiles[0].subject.common_nam', doc)).toBeUndefined();
        expect(placeOf('profiles[3].name', doc)).toBeUndefined();
        expect(placeOf('connectors[1].stepca.url', doc)).toBe('connectors[1].stepca.url');
        expect(placeOf('connectors[0].stepca', doc)).toBe('connectors[0].type');
        expect(placeOf('default_profile', doc)).toBe('default_profile');
        expect(placeOf('', doc)).toBeUndefined();
        expect(placeOf('profiles', doc)).toBeUndefined();
    });
});

// The part of des.js (which ships no types) that pbes1.ts uses.
declare module 'des.js' {
    interface CipherOptions {
        type: 'encrypt' | 'decrypt';
        key: number[] | Uint8Array;
        iv?: number[] | Uint8Array;
        padding?: boolean;
    }

    interface Cipher {
        update(data: number[] | Uint8Array): number[];
        final(data?: number[] | Uint8Array): number[];
    }

    interface CipherClass {
        create(options: CipherOptions): Cipher;
    }

    export const EDE: CipherClass;
    export const CBC: {
        instantiate(base: CipherClass): CipherClass;
    };
}

import {useCallback, useState} from 'react';

// useAction runs one user action at a time: busy while it runs, and the
// server's words when it fails.
export function useAction() {
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState('');
    const run = useCallback(async (work: () => Promise<void>) => {
        setBusy(true);
        setError('');
        try {
            await work();
        } catch (err) {
            setError((err as Error).message);
        } finally {
            setBusy(false);
        }
    }, []);
    return {busy, error, setError, run};
}

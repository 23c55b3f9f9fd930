// The "System Console" panel: each admin console custom setting a plugin
// registered, with the plugin's current value from GET /api/v4/config
// (PluginSettings.Plugins.<plugin id>.<key in lower case>), saved with
// PUT /api/v4/config as the web app's System Console does.
import React, {useCallback, useEffect, useRef, useState} from 'react';
import {useSelector} from 'react-redux';

import {api, errorText} from './client';
import type {HostState, Registration} from './store';

type Config = {PluginSettings: {Plugins: Record<string, Record<string, unknown>>}} & Record<string, unknown>;
type SaveAction = () => Promise<{error?: {message: string}} | undefined> | {error?: {message: string}} | undefined;

export function SystemConsole() {
    const settings = useSelector((s: HostState) => s.plugins.adminConsoleCustomComponents);
    const license = useSelector((s: HostState) => s.entities.general.license);
    const [config, setConfig] = useState<Config | null>(null);
    const [changes, setChanges] = useState<Record<string, Record<string, unknown>>>({});
    const [status, setStatus] = useState('');
    const [error, setError] = useState('');
    const [saving, setSaving] = useState(false);
    const saveActions = useRef(new Map<string, SaveAction>());

    const load = useCallback(async () => {
        setError('');
        try {
            setConfig(await api<Config>('GET', '/api/v4/config'));
        } catch (e) {
            setError(errorText(e));
        }
    }, []);
    useEffect(() => {
        load();
    }, [load]);

    const entries: Array<[string, Registration & {key: string; component: React.ComponentType<Record<string, unknown>>; options: {showTitle: boolean}}]> = [];
    for (const [pluginId, byKey] of Object.entries(settings)) {
        for (const registration of Object.values(byKey)) {
            entries.push([pluginId, registration as (typeof entries)[number][1]]);
        }
    }

    const save = async () => {
        if (!config) {
            return;
        }
        setSaving(true);
        setError('');
        setStatus('');
        try {
            for (const action of saveActions.current.values()) {
                const result = await action();
                if (result?.error) {
                    throw new Error(result.error.message);
                }
            }
            const next = structuredClone(config);
            for (const [pluginId, values] of Object.entries(changes)) {
                next.PluginSettings.Plugins[pluginId] = {...(next.PluginSettings.Plugins[pluginId] || {}), ...values};
            }
            setConfig(await api<Config>('PUT', '/api/v4/config', next));
            setChanges({});
            setStatus('Saved.');
        } catch (e) {
            setError(errorText(e));
        } finally {
            setSaving(false);
        }
    };

    return (
        <section
            aria-labelledby='system-console-title'
            className='panel'
        >
            <h2 id='system-console-title'>{'System Console'}</h2>
            {entries.length === 0 && <p>{'No plugin registered a custom setting.'}</p>}
            {!config && !error && <p>{'Loading the configuration…'}</p>}
            {config && entries.map(([pluginId, reg]) => {
                const Component = reg.component;
                const key = reg.key.toLowerCase();
                const saved = config.PluginSettings?.Plugins?.[pluginId]?.[key];
                const value = changes[pluginId] && key in changes[pluginId] ? changes[pluginId][key] : saved;
                const labelId = `setting-${pluginId}-${key}`;
                return (
                    <div
                        key={reg.id}
                        className='setting'
                        role='group'
                        aria-labelledby={labelId}
                    >
                        <h3
                            id={labelId}
                            className={reg.options.showTitle ? '' : 'visually-hidden'}
                        >{`${pluginId}: ${reg.key}`}</h3>
                        <Component
                            id={reg.key}
                            label={reg.key}
                            helpText={null}
                            value={value}
                            disabled={false}
                            config={config}
                            license={license}
                            setByEnv={false}
                            onChange={(id: string, newValue: unknown) => {
                                setStatus('');
                                setChanges((c) => ({...c, [pluginId]: {...(c[pluginId] || {}), [String(id || reg.key).toLowerCase()]: newValue}}));
                            }}
                            setSaveNeeded={() => setStatus('')}
                            registerSaveAction={(action: SaveAction) => saveActions.current.set(reg.id, action)}
                            unRegisterSaveAction={() => saveActions.current.delete(reg.id)}
                            cancelSubmit={() => setSaving(false)}
                            showConfirm={false}
                        />
                    </div>
                );
            })}
            {error && <p role='alert' className='error'>{error}</p>}
            <p role='status'>{status}</p>
            <button
                type='button'
                className='primary'
                onClick={save}
                disabled={!config || saving || entries.length === 0}
            >{saving ? 'Saving…' : 'Save'}</button>
        </section>
    );
}

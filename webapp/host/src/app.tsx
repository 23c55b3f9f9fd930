// The page: sign-in, then a channel view with what plugins registered.
import React, {useCallback, useEffect, useRef, useState} from 'react';
import {useDispatch, useSelector, useStore} from 'react-redux';

import {SystemConsole} from './admin';
import {api, errorText} from './client';
import {InteractiveDialog, type DialogRequest} from './dialog';
import {MessageText} from './message';
import {runSlashCommandHooks, unsupportedCalls, webSocketHandlers, type SlashCommandHook, type WebSocketMessage} from './registry';
import {ActionTypes, type HostState, type Registration, type User} from './store';
import {applyTheme, saveTheme} from './theme';
import {connectWebSocket} from './websocket';

export interface Session {
    user: User;
    team: {id: string; display_name: string; name: string};
    channel: {id: string; display_name: string; name: string};
}

interface Props {
    session: Session | null;
    loadingPlugins: boolean;
    pluginErrors: string[];
    onSignIn: (username: string, password: string) => Promise<void>;
    onSignOut: () => Promise<void>;
}

export function App({session, loadingPlugins, pluginErrors, onSignIn, onSignOut}: Props) {
    const roots = useSelector((s: HostState) => s.plugins.components.Root || []);
    return (
        <>
            <ThemeSwitch/>
            {session ? (
                <Workspace
                    session={session}
                    loadingPlugins={loadingPlugins}
                    pluginErrors={pluginErrors}
                    onSignOut={onSignOut}
                />
            ) : <SignIn onSignIn={onSignIn}/>}
            {roots.map((r) => {
                const Component = r.component as React.ComponentType;
                return <Component key={r.id}/>;
            })}
        </>
    );
}

function ThemeSwitch() {
    const theme = useSelector((s: HostState) => s.host.theme);
    const dispatch = useDispatch();
    const dark = theme === 'dark';
    return (
        <button
            type='button'
            className='theme-switch'
            aria-pressed={dark}
            onClick={() => {
                const next = dark ? 'light' : 'dark';
                applyTheme(next);
                saveTheme(next);
                dispatch({type: ActionTypes.SET_THEME, theme: next});
            }}
        >{'Dark theme'}</button>
    );
}

function SignIn({onSignIn}: {onSignIn: Props['onSignIn']}) {
    const [username, setUsername] = useState('');
    const [password, setPassword] = useState('');
    const [error, setError] = useState('');
    const [busy, setBusy] = useState(false);
    const submit = async (event: React.FormEvent) => {
        event.preventDefault();
        setBusy(true);
        setError('');
        try {
            await onSignIn(username, password);
        } catch (e) {
            setError(errorText(e));
            setBusy(false);
        }
    };
    return (
        <main className='sign-in'>
            <h1>{'Sign in to Mattermost'}</h1>
            <p>{'This page runs the plugins\' web app bundles the way the Mattermost web app does.'}</p>
            <form
                onSubmit={submit}
                aria-label='Sign in'
            >
                <div className='field'>
                    <label htmlFor='login-id'>{'Username or email'}</label>
                    <input
                        id='login-id'
                        name='username'
                        autoComplete='username'
                        required={true}
                        value={username}
                        onChange={(e) => setUsername(e.target.value)}
                    />
                </div>
                <div className='field'>
                    <label htmlFor='password'>{'Password'}</label>
                    <input
                        id='password'
                        name='password'
                        type='password'
                        autoComplete='current-password'
                        required={true}
                        value={password}
                        onChange={(e) => setPassword(e.target.value)}
                    />
                </div>
                {error && <p role='alert' className='error'>{error}</p>}
                <button
                    type='submit'
                    className='primary'
                    disabled={busy}
                >{'Sign in'}</button>
            </form>
        </main>
    );
}

interface Entry {
    key: string;
    who: string;
    note?: string;
    post?: Post;
    text?: string;
    error?: boolean;
}

interface Post {
    id: string;
    user_id: string;
    channel_id: string;
    message: string;
    props?: {attachments?: Attachment[]};
}

interface Attachment {
    pretext?: string;
    title?: string;
    text?: string;
    fields?: Array<{title?: string; value?: string}>;
    actions?: Array<{id: string; name: string; cookie?: string}>;
}

function label(node: unknown): string {
    return typeof node === 'string' ? node : '';
}

function Workspace({session, loadingPlugins, pluginErrors, onSignOut}: {session: Session; loadingPlugins: boolean; pluginErrors: string[]; onSignOut: Props['onSignOut']}) {
    const store = useStore<HostState>();
    const dispatch = useDispatch();
    const headerButtons = useSelector((s: HostState) => s.plugins.components.ChannelHeaderButton || []);
    const appBar = useSelector((s: HostState) => s.plugins.components.AppBar || []);
    const rhsList = useSelector((s: HostState) => s.plugins.components.RightHandSidebarComponent || []);
    const rhs = useSelector((s: HostState) => s.views.rhs);
    const profiles = useSelector((s: HostState) => s.entities.users.profiles);
    const plugins = useSelector((s: HostState) => Object.keys(s.plugins.plugins));
    const [entries, setEntries] = useState<Entry[]>([]);
    const [socketStatus, setSocketStatus] = useState('connecting');
    const [dialog, setDialog] = useState<DialogRequest | null>(null);
    const [command, setCommand] = useState('');
    const [status, setStatus] = useState('');
    const [gotoLocation, setGotoLocation] = useState('');
    const [consoleOpen, setConsoleOpen] = useState(false);
    const isAdmin = session.user.roles.split(' ').includes('system_admin');
    const seq = useRef(0);

    const add = useCallback((entry: Omit<Entry, 'key'>) => {
        seq.current += 1;
        const key = `e${seq.current}`;
        setEntries((list) => [...list, {...entry, key}]);
    }, []);

    const ensureProfile = useCallback((userId: string) => {
        if (!userId || store.getState().entities.users.profiles[userId]) {
            return;
        }
        api<User>('GET', `/api/v4/users/${encodeURIComponent(userId)}`).then((user) => {
            dispatch({type: ActionTypes.RECEIVED_PROFILE, user});
        }).catch(() => undefined);
    }, [dispatch, store]);

    useEffect(() => connectWebSocket((msg: WebSocketMessage) => {
        const data = msg.data || {};
        if (msg.event === 'posted' || msg.event === 'ephemeral_message') {
            let post: Post;
            try {
                post = JSON.parse(String(data.post));
            } catch {
                return;
            }
            const inChannel = post.channel_id === session.channel.id;
            const direct = data.channel_type === 'D';
            if (inChannel || direct) {
                ensureProfile(post.user_id);
                add({
                    who: post.user_id,
                    post,
                    note: [msg.event === 'ephemeral_message' ? 'only visible to you' : '', direct && !inChannel ? 'direct message' : ''].filter(Boolean).join(', '),
                });
            }
        } else if (msg.event === 'open_dialog') {
            try {
                const request = JSON.parse(String(data.dialog)) as DialogRequest;
                setDialog(request);
                add({who: 'system', text: `Dialog opened: ${request.dialog?.title || '(no title)'}`});
            } catch {
                // not a dialog
            }
        }
        for (const handler of webSocketHandlers.get(msg.event)?.values() || []) {
            try {
                handler(msg);
            } catch (e) {
                add({who: 'system', text: `A plugin's handler of ${msg.event} failed: ${errorText(e)}`, error: true});
            }
        }
    }, setSocketStatus), [session.channel.id, add, ensureProfile]);

    const submitCommand = async (event: React.FormEvent) => {
        event.preventDefault();
        const text = command.trim();
        if (!text) {
            return;
        }
        setStatus('');
        setGotoLocation('');
        const args = {channel_id: session.channel.id, team_id: session.team.id};
        try {
            if (!text.startsWith('/')) {
                await api('POST', '/api/v4/posts', {channel_id: session.channel.id, message: text});
                setCommand('');
                return;
            }
            const hooks = (store.getState().plugins.components.SlashCommandWillBePosted || []).map((r) => r.hook as SlashCommandHook);
            const result = await runSlashCommandHooks(hooks, text, args);
            if (result.error) {
                add({who: 'system', text: result.error.message, error: true});
                return;
            }
            setCommand('');
            if (!result.message) {
                setStatus(`${text}: handled by a plugin.`);
                return;
            }
            const answer = await api<{text?: string; goto_location?: string; response_type?: string}>('POST', '/api/v4/commands/execute', {
                command: result.message,
                channel_id: result.args?.channel_id || args.channel_id,
                team_id: result.args?.team_id || args.team_id,
                root_id: result.args?.root_id || '',
            });
            setStatus(`${result.message}: sent.${answer?.text ? ` The server answered: ${answer.text}` : ''}`);
            setGotoLocation(answer?.goto_location || '');
        } catch (e) {
            add({who: 'system', text: errorText(e), error: true});
        }
    };

    const doAction = async (post: Post, action: {id: string; cookie?: string}) => {
        try {
            await api('POST', `/api/v4/posts/${encodeURIComponent(post.id)}/actions/${encodeURIComponent(action.id)}`, {selected_option: '', cookie: action.cookie || ''});
        } catch (e) {
            add({who: 'system', text: errorText(e), error: true});
        }
    };

    const openRHS = rhs.isOpen ? rhsList.find((r) => r.id === rhs.pluginId) : undefined;
    const RHSComponent = openRHS?.component as React.ComponentType | undefined;
    const run = (action: unknown) => (action as () => void)();

    return (
        <div
            className='workspace'
            data-plugins-loaded={loadingPlugins ? 'false' : 'true'}
        >
            <nav
                className='app-bar'
                aria-label='App Bar'
            >
                {appBar.map((r: Registration) => (
                    <button
                        key={r.id}
                        type='button'
                        title={label(r.tooltipText)}
                        onClick={() => run(r.action)}
                    >
                        <img
                            src={String(r.iconUrl)}
                            alt={label(r.tooltipText)}
                            width={24}
                            height={24}
                        />
                    </button>
                ))}
            </nav>
            <main className='center'>
                <div className='top'>
                    <p>
                        {'Signed in as '}<strong>{session.user.username}</strong>{` · team ${session.team.display_name} · WebSocket ${socketStatus}`}
                        {' · plugins: '}{loadingPlugins ? 'loading…' : (plugins.join(', ') || 'none')}
                    </p>
                    {isAdmin && (
                        <button
                            type='button'
                            aria-expanded={consoleOpen}
                            aria-controls='system-console'
                            onClick={() => setConsoleOpen(!consoleOpen)}
                        >{'System Console'}</button>
                    )}
                    <button
                        id='sign-out'
                        type='button'
                        onClick={() => onSignOut()}
                    >{'Sign out'}</button>
                </div>
                {pluginErrors.map((e) => <p key={e} role='alert' className='error'>{e}</p>)}
                {unsupportedCalls.length > 0 && <p>{`Registry calls this page does not implement: ${unsupportedCalls.join(', ')}`}</p>}
                <header
                    className='channel-header'
                    aria-label='Channel header'
                >
                    <h1>{session.channel.display_name}</h1>
                    <div className='channel-header-buttons'>
                        {headerButtons.map((r) => (
                            <button
                                key={r.id}
                                type='button'
                                title={label(r.tooltipText) || label(r.dropdownText)}
                                onClick={() => run(r.action)}
                            >
                                {r.icon as React.ReactNode}
                                <span className='visually-hidden'>{(r.tooltipText || r.dropdownText) as React.ReactNode}</span>
                            </button>
                        ))}
                    </div>
                </header>
                <ol
                    className='messages'
                    role='log'
                    aria-label='Messages'
                    aria-live='polite'
                >
                    {entries.map((entry) => (
                        <li
                            key={entry.key}
                            className={entry.error ? 'error' : ''}
                        >
                            <strong>{entry.who === 'system' ? 'System' : (profiles[entry.who]?.username || entry.who)}</strong>
                            {entry.note && <span className='note'>{` (${entry.note})`}</span>}
                            {': '}
                            {entry.text !== undefined && <MessageText text={entry.text}/>}
                            {entry.post && <MessageText text={entry.post.message}/>}
                            {entry.post?.props?.attachments?.map((a, i) => (
                                <div
                                    className='attachment'
                                    key={i}
                                >
                                    {a.pretext && <p><MessageText text={a.pretext}/></p>}
                                    {a.title && <p><strong>{a.title}</strong></p>}
                                    {a.text && <p><MessageText text={a.text}/></p>}
                                    {a.fields?.map((f, j) => <p key={j}><strong>{f.title}</strong>{' '}<MessageText text={String(f.value ?? '')}/></p>)}
                                    {a.actions?.map((action) => (
                                        <button
                                            key={action.id}
                                            type='button'
                                            onClick={() => doAction(entry.post as Post, action)}
                                        >{action.name}</button>
                                    ))}
                                </div>
                            ))}
                        </li>
                    ))}
                </ol>
                <form
                    className='command-box'
                    onSubmit={submitCommand}
                >
                    <label htmlFor='command'>{`Message ${session.channel.display_name} or type a slash command`}</label>
                    <div className='row'>
                        <input
                            id='command'
                            autoComplete='off'
                            placeholder='/cert help'
                            value={command}
                            onChange={(e) => setCommand(e.target.value)}
                        />
                        <button
                            type='submit'
                            className='primary'
                        >{'Send'}</button>
                    </div>
                </form>
                <p
                    role='status'
                    className='command-status'
                >
                    {status}
                    {gotoLocation && <>{' '}<a href={gotoLocation}>{`Open ${gotoLocation}`}</a></>}
                </p>
                {isAdmin && consoleOpen && <div id='system-console'><SystemConsole/></div>}
            </main>
            {RHSComponent && openRHS && (
                <aside
                    className='rhs'
                    aria-label={label(openRHS.title) || 'Plugin sidebar'}
                >
                    <div className='rhs-header'>
                        <h2>{openRHS.title as React.ReactNode}</h2>
                        <button
                            type='button'
                            onClick={() => dispatch({type: ActionTypes.UPDATE_RHS_STATE, state: null, pluginId: openRHS.id})}
                        >{'Close sidebar'}</button>
                    </div>
                    <RHSComponent/>
                </aside>
            )}
            {dialog && (
                <InteractiveDialog
                    request={dialog}
                    channelId={session.channel.id}
                    teamId={session.team.id}
                    onClose={() => setDialog(null)}
                />
            )}
        </div>
    );
}

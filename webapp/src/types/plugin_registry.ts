// The small part of the Mattermost web app's plugin API that this plugin uses.
// See https://developers.mattermost.com/extend/plugins/webapp/reference/
import type React from 'react';

export interface Action {
    type: string;
}

export type Reducer<S = unknown> = (state: S | undefined, action: Action) => S;

// The host's redux store. Its state holds our reducer's slice under
// `plugins-<plugin id>`, next to the web app's own `entities`.
export interface PluginStore {
    dispatch(action: Action): unknown;
    getState(): unknown;
}

export interface PluginRegistry {
    registerReducer<S>(reducer: Reducer<S>): void;

    // Rendered once at the root of the app, inside the host's redux Provider.
    registerRootComponent(component: React.ComponentType): string;

    registerChannelHeaderButtonAction(
        icon: React.ReactNode,
        action: () => void,
        dropdownText: React.ReactNode,
        tooltipText: React.ReactNode,
    ): string;

    // Missing on servers without an App Bar; iconUrl is used as an <img> src.
    registerAppBarComponent?(iconUrl: string, action: () => void, tooltipText: React.ReactNode): unknown;

    // Called before a slash command is sent: {message, args} sends it on,
    // {} consumes it (nothing is sent), {error} shows an error.
    registerSlashCommandWillBePostedHook(hook: SlashCommandWillBePostedHook): string;

    // A WebSocket event of the server; a plugin's own events are named
    // custom_<plugin id>_<event>.
    registerWebSocketEventHandler(event: string, handler: (message: WebSocketMessage) => void): void;

    // Renders the plugin setting `key` (of type "custom" in plugin.json) in
    // the System Console.
    registerAdminConsoleCustomSetting(
        key: string,
        component: React.ComponentType<AdminConsoleCustomSettingProps>,
        options?: {showTitle?: boolean},
    ): void;
}

export interface SlashCommandArgs {
    channel_id: string;
    team_id?: string;
    root_id?: string;
}

export type SlashCommandWillBePostedResult = {message?: string; args?: SlashCommandArgs; error?: {message: string}};

export type SlashCommandWillBePostedHook = (message: string, args: SlashCommandArgs) =>
    SlashCommandWillBePostedResult | Promise<SlashCommandWillBePostedResult>;

export interface WebSocketMessage {
    event: string;
    data: Record<string, unknown>;
}

// What the System Console passes a custom setting's component.
export interface AdminConsoleCustomSettingProps {
    id: string;
    label: string;
    helpText: React.ReactNode;
    value: unknown;
    disabled: boolean;
    config?: unknown;
    license?: unknown;
    setByEnv: boolean;
    onChange(id: string, value: unknown): void;
    setSaveNeeded(): void;

    // A save action runs when the admin presses Save; an error it returns
    // stops the save and is shown.
    registerSaveAction(action: () => Promise<{error?: {message: string}}>): void;
    unRegisterSaveAction(action: () => Promise<{error?: {message: string}}>): void;
}

export interface PluginClass {
    initialize(registry: PluginRegistry, store: PluginStore): void;
}

declare global {
    interface Window {
        registerPlugin(pluginId: string, plugin: PluginClass): void;

        // Path the web app is served under, e.g. "/mattermost"; empty at the root.
        basename?: string;
    }
}

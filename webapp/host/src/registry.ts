// The registry each plugin's initialize() gets: the methods the Mattermost web
// app's PluginRegistry has, recording what a plugin registers in the store.
import type React from 'react';
import type {Reducer} from 'redux';

import {ActionTypes, type HostStore} from './store';

export type WebSocketMessage = {event: string; data: Record<string, unknown>; broadcast?: Record<string, unknown>; seq?: number};
export type WebSocketHandler = (msg: WebSocketMessage) => void;
export type SlashCommandHookResult = {message?: string; args?: SlashCommandArgs; error?: {message: string}} | undefined | null;
export type SlashCommandHook = (message: string, args: SlashCommandArgs) => SlashCommandHookResult | Promise<SlashCommandHookResult>;
export interface SlashCommandArgs {
    channel_id: string;
    team_id: string;
    root_id?: string;
}

// Handlers of custom WebSocket events, by event name (custom_<plugin id>_<name>).
export const webSocketHandlers = new Map<string, Map<string, WebSocketHandler>>();

// Registered translations, by plugin id.
export const translations = new Map<string, (locale: string) => Record<string, string> | Promise<Record<string, string>>>();

// Registry calls this host does not implement, for the page to show.
export const unsupportedCalls: string[] = [];

let nextId = 1;
function generateId(pluginId: string): string {
    nextId += 1;
    return `${pluginId}_${nextId}`;
}

// The web app's registry methods take their arguments either in order or as
// one object with named fields (reArg): accept both.
function reArg(names: string[], args: unknown[]): Record<string, unknown> {
    const first = args[0];
    if (args.length === 1 && first && typeof first === 'object' && !Array.isArray(first) && !('$$typeof' in first) && names.some((n) => n in first)) {
        return first as Record<string, unknown>;
    }
    const out: Record<string, unknown> = {};
    names.forEach((name, i) => {
        out[name] = args[i];
    });
    return out;
}

export function createRegistry(pluginId: string, store: HostStore, registerPluginReducer: (id: string, r: Reducer) => void) {
    const add = (name: string, data: Record<string, unknown>): string => {
        const id = generateId(pluginId);
        store.dispatch({type: ActionTypes.RECEIVED_PLUGIN_COMPONENT, name, data: {...data, id, pluginId}});
        return id;
    };

    const registry = {
        registerReducer(reducer: Reducer) {
            registerPluginReducer(pluginId, reducer);
        },
        registerRootComponent(component: React.ComponentType) {
            return add('Root', {component});
        },
        registerChannelHeaderButtonAction(...args: unknown[]) {
            return add('ChannelHeaderButton', reArg(['icon', 'action', 'dropdownText', 'tooltipText'], args));
        },
        registerAppBarComponent(...args: unknown[]) {
            return add('AppBar', reArg(['iconUrl', 'action', 'tooltipText', 'supportedProductIds', 'rhsComponent', 'rhsTitle'], args));
        },
        registerSlashCommandWillBePostedHook(hook: SlashCommandHook) {
            return add('SlashCommandWillBePosted', {hook});
        },
        registerMessageWillBePostedHook(hook: unknown) {
            return add('MessageWillBePosted', {hook});
        },
        registerWebSocketEventHandler(event: string, handler: WebSocketHandler) {
            const forEvent = webSocketHandlers.get(event) || new Map<string, WebSocketHandler>();
            forEvent.set(pluginId, handler);
            webSocketHandlers.set(event, forEvent);
        },
        unregisterWebSocketEventHandler(event: string) {
            webSocketHandlers.get(event)?.delete(pluginId);
        },
        registerAdminConsoleCustomSetting(key: string, component: React.ComponentType, options?: {showTitle?: boolean}) {
            store.dispatch({
                type: ActionTypes.RECEIVED_ADMIN_CONSOLE_CUSTOM_COMPONENT,
                data: {id: generateId(pluginId), pluginId, key, component, options: {showTitle: Boolean(options?.showTitle)}},
            });
        },
        registerRightHandSidebarComponent(...args: unknown[]) {
            const {component, title} = reArg(['component', 'title'], args);
            const id = add('RightHandSidebarComponent', {component, title});
            return {
                id,
                showRHSPlugin: {type: ActionTypes.UPDATE_RHS_STATE, state: 'plugin', pluginId: id},
                hideRHSPlugin: {type: ActionTypes.UPDATE_RHS_STATE, state: null, pluginId: id},
                toggleRHSPlugin: {type: ActionTypes.UPDATE_RHS_STATE, state: 'toggle', pluginId: id},
            };
        },
        registerTranslations(getTranslationsForLocale: (locale: string) => Record<string, string>) {
            translations.set(pluginId, getTranslationsForLocale);
        },
        unregisterComponent(id: string) {
            store.dispatch({type: ActionTypes.REMOVED_PLUGIN_COMPONENT, id});
        },
    };

    // Anything else the web app offers is accepted and listed on the page, so a
    // plugin using it still initializes and the gap is visible.
    return new Proxy(registry, {
        get(target, property) {
            if (property in target) {
                return target[property as keyof typeof target];
            }
            if (typeof property !== 'string' || !property.startsWith('register')) {
                return undefined;
            }
            return () => {
                unsupportedCalls.push(`${pluginId}: ${property}`);
                return generateId(pluginId);
            };
        },
    });
}

// Runs the slash command hooks in order, as the web app does: a hook's
// {message, args} goes to the next one; {error} stops with the error; an
// answer without a message consumes the command (nothing is sent).
export async function runSlashCommandHooks(hooks: SlashCommandHook[], message: string, args: SlashCommandArgs):
Promise<{message?: string; args?: SlashCommandArgs; error?: {message: string}}> {
    let current = {message, args};
    for (const hook of hooks) {
        const result = await hook(current.message, current.args);
        if (result?.error) {
            return {error: result.error};
        }
        if (!result || !result.message) {
            return {};
        }
        current = {message: result.message, args: result.args || current.args};
    }
    return current;
}

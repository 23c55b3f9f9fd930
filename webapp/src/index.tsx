// Webapp part of the Client Certificates plugin: the enroll modal (get a
// certificate three ways; My certificates), opened from the channel header,
// the App Bar, `/cert enroll` and the plugin's open_enroll WebSocket event.

// First: where webpack loads the lazily loaded chunks from.
import './public_path';

import React from 'react';

import {openEnrollModal, type EnrollModalOptions, type EnrollTab} from './actions';
import {APP_BAR_ICON_URL, CertificateIcon} from './components/certificate_icon';
import {EnrollModalRoot} from './components/enroll/enroll_modal';
import {ConnectorsAndProfilesSetting} from './components/settings/connectors_and_profiles_setting';
import {t} from './i18n';
import {id} from './manifest';
import reducer from './reducer';
import type {PluginClass, PluginRegistry, PluginStore, SlashCommandArgs, WebSocketMessage} from './types/plugin_registry';

// The WebSocket event the server sends to open the modal (a bot message's
// or a reminder's Renew): custom_<plugin id>_<event>.
export const OPEN_ENROLL_EVENT = `custom_${id}_open_enroll`;

// enrollCommand reads `/cert enroll [profile]`; null for any other message.
export function enrollCommand(message: string): EnrollModalOptions | null {
    const words = message.trim().split(/\s+/);
    if (words[0]?.toLowerCase() !== '/cert' || words[1]?.toLowerCase() !== 'enroll' || words.length > 3) {
        return null;
    }
    return words[2] ? {profile: words[2]} : {};
}

// optionsOfEvent reads what the server's event asks the modal to open on.
export function optionsOfEvent(message: WebSocketMessage): EnrollModalOptions {
    const data = message.data || {};
    const text = (key: string) => (typeof data[key] === 'string' && data[key] ? data[key] as string : undefined);
    const tab = text('tab');
    return {
        tab: tab === 'certificates' || tab === 'enroll' ? tab as EnrollTab : undefined,
        profile: text('profile'),
        renews: text('renews'),
    };
}

export default class Plugin implements PluginClass {
    public initialize(registry: PluginRegistry, store: PluginStore): void {
        registry.registerReducer(reducer);
        registry.registerRootComponent(EnrollModalRoot);
        registry.registerAdminConsoleCustomSetting('ConnectorsAndProfiles', ConnectorsAndProfilesSetting, {showTitle: true});

        const open = () => {
            store.dispatch(openEnrollModal());
        };

        registry.registerChannelHeaderButtonAction(
            <CertificateIcon/>,
            open,
            t('header_button.dropdown'),
            t('header_button.tooltip'),
        );

        if (registry.registerAppBarComponent) {
            registry.registerAppBarComponent(APP_BAR_ICON_URL, open, t('app_bar.tooltip'));
        }

        // `/cert enroll` in the web app opens the modal and sends nothing;
        // every other command goes on as typed. Clients without webapp
        // plugins send it, and the server opens its dialog instead.
        registry.registerSlashCommandWillBePostedHook((message: string, args: SlashCommandArgs) => {
            const options = enrollCommand(message);
            if (!options) {
                return {message, args};
            }
            store.dispatch(openEnrollModal(options));
            return {};
        });

        registry.registerWebSocketEventHandler(OPEN_ENROLL_EVENT, (message: WebSocketMessage) => {
            store.dispatch(openEnrollModal(optionsOfEvent(message)));
        });
    }
}

window.registerPlugin(id, new Plugin());

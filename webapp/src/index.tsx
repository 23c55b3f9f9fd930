// Webapp part of the Client Certificates plugin. Certificates are issued by the
// server through the /cert slash command; this bundle only adds an "About
// client certificates" dialog explaining how to use it, opened from a channel
// header button and, on servers that have one, an App Bar icon.

// First: where webpack loads the lazily loaded chunks from.
import './public_path';

import React from 'react';

import {openInfoModal} from './actions';
import {APP_BAR_ICON_URL, CertificateIcon} from './components/certificate_icon';
import {InfoModalRoot} from './components/info_modal';
import {t} from './i18n';
import {id} from './manifest';
import reducer from './reducer';
import type {PluginClass, PluginRegistry, PluginStore} from './types/plugin_registry';

export default class Plugin implements PluginClass {
    public initialize(registry: PluginRegistry, store: PluginStore): void {
        registry.registerReducer(reducer);
        registry.registerRootComponent(InfoModalRoot);

        const showInfo = () => {
            store.dispatch(openInfoModal());
        };

        registry.registerChannelHeaderButtonAction(
            <CertificateIcon/>,
            showInfo,
            t('header_button.dropdown'),
            t('header_button.tooltip'),
        );

        if (registry.registerAppBarComponent) {
            registry.registerAppBarComponent(APP_BAR_ICON_URL, showInfo, t('app_bar.tooltip'));
        }
    }
}

window.registerPlugin(id, new Plugin());

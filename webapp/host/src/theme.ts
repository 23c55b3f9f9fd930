// The Mattermost theme keys, as CSS variables on the document, the way the web
// app sets them (applyTheme): --center-channel-bg, --button-bg, ... and an
// "-rgb" variant of each colour. Denim (light) and Onyx (dark).

export type ThemeName = 'light' | 'dark';

const themes: Record<ThemeName, Record<string, string>> = {
    light: {
        sidebarBg: '#1e325c',
        sidebarText: '#ffffff',
        sidebarUnreadText: '#ffffff',
        sidebarTextHoverBg: '#28427b',
        sidebarTextActiveBorder: '#5d89ea',
        sidebarTextActiveColor: '#ffffff',
        sidebarHeaderBg: '#192a4d',
        sidebarHeaderTextColor: '#ffffff',
        sidebarTeamBarBg: '#14213e',
        onlineIndicator: '#3db887',
        awayIndicator: '#ffbc1f',
        dndIndicator: '#d24b4e',
        mentionBg: '#ffffff',
        mentionColor: '#1e325c',
        centerChannelBg: '#ffffff',
        centerChannelColor: '#3f4350',
        newMessageSeparator: '#cc8f00',
        linkColor: '#1c58d9',
        buttonBg: '#1c58d9',
        buttonColor: '#ffffff',
        errorTextColor: '#c43133',
        mentionHighlightBg: '#ffd470',
        mentionHighlightLink: '#1b1d22',
    },
    dark: {
        sidebarBg: '#202228',
        sidebarText: '#ffffff',
        sidebarUnreadText: '#ffffff',
        sidebarTextHoverBg: '#25262a',
        sidebarTextActiveBorder: '#4a7ebb',
        sidebarTextActiveColor: '#ffffff',
        sidebarHeaderBg: '#24272d',
        sidebarHeaderTextColor: '#ffffff',
        sidebarTeamBarBg: '#292c33',
        onlineIndicator: '#3db887',
        awayIndicator: '#f5ab00',
        dndIndicator: '#d24b4e',
        mentionBg: '#4b7ebb',
        mentionColor: '#ffffff',
        centerChannelBg: '#191b1f',
        centerChannelColor: '#e3e4e8',
        newMessageSeparator: '#1adbdb',
        linkColor: '#7fa4f0',
        buttonBg: '#4a7ebb',
        buttonColor: '#ffffff',
        errorTextColor: '#f08b8d',
        mentionHighlightBg: '#0d6e6e',
        mentionHighlightLink: '#a4f4f4',
    },
};

// The CSS variable names the web app uses where they are not the key in kebab case.
const renamed: Record<string, string> = {errorTextColor: 'error-text'};

function cssName(key: string): string {
    return renamed[key] || key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function rgb(hex: string): string {
    const n = parseInt(hex.slice(1), 16);
    return `${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}`;
}

export function themeValues(name: ThemeName): Record<string, string> {
    return {...themes[name], type: name === 'dark' ? 'Onyx' : 'Denim', codeTheme: name === 'dark' ? 'monokai' : 'github'};
}

export function applyTheme(name: ThemeName): void {
    const style = document.documentElement.style;
    for (const [key, value] of Object.entries(themes[name])) {
        style.setProperty(`--${cssName(key)}`, value);
        style.setProperty(`--${cssName(key)}-rgb`, rgb(value));
    }
    document.documentElement.dataset.theme = name;
    document.documentElement.style.colorScheme = name;
}

export function savedTheme(): ThemeName {
    try {
        return window.localStorage.getItem('host-theme') === 'dark' ? 'dark' : 'light';
    } catch {
        return 'light';
    }
}

export function saveTheme(name: ThemeName): void {
    try {
        window.localStorage.setItem('host-theme', name);
    } catch {
        // private mode: the choice lasts for this page only
    }
}

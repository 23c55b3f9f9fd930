import React from 'react';

// A certificate: a card with two lines of text and a seal with a ribbon,
// drawn on a 24x24 grid. Shared by the React icon and the App Bar image.
const GLYPH_PATHS = [
    'M3 4h18a1 1 0 0 1 1 1v6h-2V6H4v9h7v2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z',
    'M6 8h11v1.5H6zM6 11.5h6V13H6z',
    'M17 11.5a3.5 3.5 0 1 1 0 7a3.5 3.5 0 1 1 0-7z',
    'M15 18v4l2-1 2 1v-4z',
];

interface Props {
    size?: number;
}

// Takes the surrounding text colour, so it follows the user's theme.
export function CertificateIcon({size = 16}: Props) {
    return (
        <svg
            width={size}
            height={size}
            viewBox='0 0 24 24'
            fill='currentColor'
            aria-hidden='true'
            focusable='false'
        >
            {GLYPH_PATHS.map((d) => (
                <path
                    key={d}
                    d={d}
                />
            ))}
        </svg>
    );
}

// The App Bar wants an image URL. A data URL keeps the plugin free of static
// assets; the icon has its own background because it cannot read the theme.
function appBarIconSVG(): string {
    const paths = GLYPH_PATHS.map((d) => `<path d="${d}"/>`).join('');
    return '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">' +
        '<rect width="24" height="24" rx="5" fill="#1c58d9"/>' +
        `<g fill="#ffffff" transform="translate(4 4) scale(0.6667)">${paths}</g>` +
        '</svg>';
}

export const APP_BAR_ICON_URL = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(appBarIconSVG())}`;

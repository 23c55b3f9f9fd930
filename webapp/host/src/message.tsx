// Renders a post's text as text: markdown links [label](url), <url> and bare
// http(s) URLs become links, `code` becomes <code>; nothing is parsed as HTML.
import React from 'react';

const TOKEN = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|<(https?:\/\/[^\s>]+)>|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])|`([^`\n]+)`|\*\*([^*\n]+)\*\*/g;

export function MessageText({text}: {text: string}) {
    const nodes: React.ReactNode[] = [];
    let last = 0;
    for (const match of text.matchAll(TOKEN)) {
        const index = match.index ?? 0;
        if (index > last) {
            nodes.push(text.slice(last, index));
        }
        const [, label, labelledURL, angleURL, bareURL, code, bold] = match;
        const url = labelledURL || angleURL || bareURL;
        if (url) {
            nodes.push(
                <a
                    key={index}
                    href={url}
                    target='_blank'
                    rel='noopener noreferrer'
                >
                    {label || url}
                </a>,
            );
        } else if (code) {
            nodes.push(<code key={index}>{code}</code>);
        } else if (bold) {
            nodes.push(<strong key={index}>{bold}</strong>);
        }
        last = index + match[0].length;
    }
    if (last < text.length) {
        nodes.push(text.slice(last));
    }
    return <span className='message-text'>{nodes}</span>;
}

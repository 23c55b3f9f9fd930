// The server's WebSocket, authenticated by the session cookie as in the web
// app (the server then answers with a "hello" event). Reconnects after a drop.
import type {WebSocketMessage} from './registry';

export function connectWebSocket(onMessage: (msg: WebSocketMessage) => void, onStatus: (status: string) => void): () => void {
    let socket: WebSocket | undefined;
    let stopped = false;
    let retry: number | undefined;
    let delay = 1000;

    const open = () => {
        const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
        socket = new WebSocket(`${scheme}//${window.location.host}${window.basename || ''}/api/v4/websocket`);
        onStatus('connecting');
        socket.onmessage = (event) => {
            let msg: WebSocketMessage;
            try {
                msg = JSON.parse(event.data);
            } catch {
                return;
            }
            if (msg.event === 'hello') {
                delay = 1000;
                onStatus('connected');
            }
            if (msg.event) {
                onMessage(msg);
            }
        };
        socket.onclose = () => {
            if (stopped) {
                return;
            }
            onStatus('disconnected');
            retry = window.setTimeout(open, delay);
            delay = Math.min(delay * 2, 30000);
        };
    };
    open();
    return () => {
        stopped = true;
        window.clearTimeout(retry);
        socket?.close();
    };
}

//go:build e2e

package testbed

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// WebSocket listens on a user's WebSocket connection and keeps the ephemeral
// posts delivered to them (replies of slash commands and plugins) and the
// dialogs opened for them, so a test can wait for the one it expects.
type WebSocket struct {
	client *model.WebSocketClient

	mu      sync.Mutex
	pending []*model.Post // ephemeral posts not yet consumed, oldest first
	dialogs []*model.OpenDialogRequest
	arrived chan struct{} // closed and replaced whenever a post arrives
	ended   bool          // the connection is gone
	stopped chan struct{}
}

// ConnectWebSocket opens an authenticated WebSocket for the session token and
// returns once the server has greeted it, so no event sent afterwards is missed.
func (mm *Mattermost) ConnectWebSocket(token string) (*WebSocket, error) {
	client, err := model.NewWebSocketClient4(mm.WebSocketURL(), token)
	if err != nil {
		return nil, fmt.Errorf("connecting WebSocket to %s: %w", mm.WebSocketURL(), err)
	}
	ws := &WebSocket{client: client, arrived: make(chan struct{}), stopped: make(chan struct{})}
	hello := make(chan struct{})
	client.Listen()
	go ws.read(hello)
	go func() {
		for range client.ResponseChannel { // unread responses would stall the reader
		}
	}()
	select {
	case <-hello:
		return ws, nil
	case <-ws.stopped:
		return nil, fmt.Errorf("WebSocket closed before the server's hello: %v", client.ListenError)
	case <-time.After(15 * time.Second):
		ws.Close()
		return nil, fmt.Errorf("no hello on the WebSocket within 15s")
	}
}

func (ws *WebSocket) read(hello chan struct{}) {
	defer close(ws.stopped)
	defer ws.wake(true)
	greeted := false
	for event := range ws.client.EventChannel {
		switch event.EventType() {
		case model.WebsocketEventHello:
			if !greeted {
				greeted = true
				close(hello)
			}
		case model.WebsocketEventOpenDialog:
			raw, _ := event.GetData()["dialog"].(string)
			var dialog model.OpenDialogRequest
			if err := json.Unmarshal([]byte(raw), &dialog); err != nil {
				continue
			}
			ws.mu.Lock()
			ws.dialogs = append(ws.dialogs, &dialog)
			ws.mu.Unlock()
			ws.wake(false)
		case model.WebsocketEventEphemeralMessage:
			raw, _ := event.GetData()["post"].(string)
			var post model.Post
			if err := json.Unmarshal([]byte(raw), &post); err != nil {
				continue
			}
			ws.mu.Lock()
			ws.pending = append(ws.pending, &post)
			ws.mu.Unlock()
			ws.wake(false)
		}
	}
}

func (ws *WebSocket) wake(ended bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ended {
		ws.ended = true
	}
	close(ws.arrived)
	ws.arrived = make(chan struct{})
}

// Reset forgets ephemeral posts received so far: call it before the action
// whose reply you are going to wait for.
func (ws *WebSocket) Reset() {
	ws.mu.Lock()
	ws.pending = nil
	ws.mu.Unlock()
}

// WaitForEphemeral returns the oldest pending ephemeral post that match
// accepts, dropping it and every older one. It fails after timeout, listing
// what did arrive.
func (ws *WebSocket) WaitForEphemeral(timeout time.Duration, match func(*model.Post) bool) (*model.Post, error) {
	deadline := time.After(timeout)
	var seen []string
	for {
		ws.mu.Lock()
		for i, post := range ws.pending {
			if match(post) {
				ws.pending = ws.pending[i+1:]
				ws.mu.Unlock()
				return post, nil
			}
		}
		seen = seen[:0]
		for _, post := range ws.pending {
			seen = append(seen, fmt.Sprintf("from %s: %q", post.UserId, post.Message))
		}
		arrived, ended := ws.arrived, ws.ended
		ws.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("WebSocket closed (%v) before a matching ephemeral post; got: [%s]", ws.client.ListenError, strings.Join(seen, ", "))
		}
		select {
		case <-arrived:
		case <-deadline:
			return nil, fmt.Errorf("no matching ephemeral post within %s; got: [%s]", timeout, strings.Join(seen, ", "))
		}
	}
}

// WaitForDialog returns the oldest dialog opened for the user and not yet
// taken, or fails after timeout.
func (ws *WebSocket) WaitForDialog(timeout time.Duration) (*model.OpenDialogRequest, error) {
	deadline := time.After(timeout)
	for {
		ws.mu.Lock()
		if len(ws.dialogs) > 0 {
			dialog := ws.dialogs[0]
			ws.dialogs = ws.dialogs[1:]
			ws.mu.Unlock()
			return dialog, nil
		}
		arrived, ended := ws.arrived, ws.ended
		ws.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("WebSocket closed (%v) before a dialog opened", ws.client.ListenError)
		}
		select {
		case <-arrived:
		case <-deadline:
			return nil, fmt.Errorf("no dialog opened within %s", timeout)
		}
	}
}

// Close ends the connection and waits for the reader to finish.
func (ws *WebSocket) Close() {
	ws.client.Close()
	select {
	case <-ws.stopped:
	case <-time.After(5 * time.Second):
	}
}

package mattermost

import (
	"sync"

	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost/server/public/model"
)

// BotAPI is what the bot needs of the server to write to people.
type BotAPI interface {
	GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
}

var _ BotAPI = plugin.API(nil)

// Bot writes to people as the plugin's bot account.
type Bot struct {
	API BotAPI
	// ID is the bot's user id.
	ID       string
	channels dmChannels
}

// dmChannelCacheSize bounds the remembered direct channels; past it the
// cache starts over, which costs one lookup per user again.
const dmChannelCacheSize = 10000

// dmChannels remembers the id of the bot's direct channel with each user.
// A direct channel's id never changes, so each node may keep its own copy:
// it saves a server round trip on every notification.
type dmChannels struct {
	mu  sync.Mutex
	ids map[string]string
}

func (c *dmChannels) get(userID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[userID]
	return id, ok
}

func (c *dmChannels) put(userID, channelID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil || len(c.ids) >= dmChannelCacheSize {
		c.ids = make(map[string]string)
	}
	c.ids[userID] = channelID
}

func (c *dmChannels) forget(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ids, userID)
}

// dmChannel is the bot's direct channel with userID, opened if need be,
// and whether it was remembered rather than looked up.
func (b *Bot) dmChannel(userID string) (string, bool, error) {
	if id, ok := b.channels.get(userID); ok {
		return id, true, nil
	}
	channel, appErr := b.API.GetDirectChannel(b.ID, userID)
	if appErr != nil {
		return "", false, appErr
	}
	b.channels.put(userID, channel.Id)
	return channel.Id, false, nil
}

// dmPost sends post as the bot in its DM with userID and returns it. A post
// refused in a remembered channel is tried once more in the channel the
// server names now.
func (b *Bot) DM(userID string, post *model.Post) (*model.Post, error) {
	channelID, remembered, err := b.dmChannel(userID)
	if err != nil {
		return nil, err
	}
	post.ChannelId = channelID
	post.UserId = b.ID
	created, appErr := b.API.CreatePost(post)
	if appErr != nil && remembered {
		b.channels.forget(userID)
		if channelID, _, err = b.dmChannel(userID); err != nil {
			return nil, err
		}
		post.ChannelId = channelID
		created, appErr = b.API.CreatePost(post)
	}
	if appErr != nil {
		return nil, appErr
	}
	return created, nil
}

package main

import (
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
)

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
func (p *Plugin) dmChannel(userID string) (string, bool, error) {
	if id, ok := p.dmChannels.get(userID); ok {
		return id, true, nil
	}
	channel, appErr := p.API.GetDirectChannel(p.botUserID, userID)
	if appErr != nil {
		return "", false, appErr
	}
	p.dmChannels.put(userID, channel.Id)
	return channel.Id, false, nil
}

// dmPost sends post as the bot in its DM with userID and returns it. A post
// refused in a remembered channel is tried once more in the channel the
// server names now.
func (p *Plugin) dmPost(userID string, post *model.Post) (*model.Post, error) {
	channelID, remembered, err := p.dmChannel(userID)
	if err != nil {
		return nil, err
	}
	post.ChannelId = channelID
	post.UserId = p.botUserID
	created, appErr := p.API.CreatePost(post)
	if appErr != nil && remembered {
		p.dmChannels.forget(userID)
		if channelID, _, err = p.dmChannel(userID); err != nil {
			return nil, err
		}
		post.ChannelId = channelID
		created, appErr = p.API.CreatePost(post)
	}
	if appErr != nil {
		return nil, appErr
	}
	return created, nil
}

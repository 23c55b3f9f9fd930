package mattermost

import (
	"net/http"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// channelServer names one direct channel per user and refuses posts to
// the channel refused (one that was archived, say).
type channelServer struct {
	lookups int
	refused string
	posts   map[string][]string
}

func (s *channelServer) GetDirectChannel(_, userID string) (*model.Channel, *model.AppError) {
	s.lookups++
	return &model.Channel{Id: "dm-" + userID}, nil
}

func (s *channelServer) CreatePost(post *model.Post) (*model.Post, *model.AppError) {
	if post.ChannelId == s.refused {
		return nil, model.NewAppError("CreatePost", "gone", nil, "", http.StatusForbidden)
	}
	if s.posts == nil {
		s.posts = map[string][]string{}
	}
	s.posts[post.ChannelId] = append(s.posts[post.ChannelId], post.Message)
	return post, nil
}

// The bot's direct channel with a user is looked up once, not for every
// notification; a post refused in a remembered channel goes to the channel
// the server names now.
func TestDirectChannelsAreRemembered(t *testing.T) {
	server := &channelServer{}
	bot := &Bot{API: server, ID: "bot"}
	for range 3 {
		post, err := bot.DM("alice", &model.Post{Message: "hello"})
		require.NoError(t, err)
		assert.Equal(t, "bot", post.UserId)
	}
	assert.Equal(t, 1, server.lookups)
	assert.Len(t, server.posts["dm-alice"], 3)

	bot.channels.put("alice", "gone")
	server.refused = "gone"
	_, err := bot.DM("alice", &model.Post{Message: "again"})
	require.NoError(t, err)
	assert.Len(t, server.posts["dm-alice"], 4, "delivered in the channel the server named")
	assert.Equal(t, 2, server.lookups)
}

func TestCodeSpanKeepsAnOutsideNameInert(t *testing.T) {
	assert.Equal(t, "`dave`", CodeSpan("dave"))
	assert.Equal(t, "`@here [x](http://e.example)`", CodeSpan("@here` [x](http://e.example)"))
	assert.Equal(t, "`ab`", CodeSpan("a\nb"))
	assert.Equal(t, "`evil`", CodeSpan("e\u202evil"))
}

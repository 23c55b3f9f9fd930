package enroll

import (
	"context"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
)

// RedeemNow serves, at once, a link just minted for r (a renewal, the
// pickup of an approved request), as the link's page would serve it: for
// the enroll modal and automation, which show no page in between. upload
// is the CSR of a CSR link, nil for a link whose key the server makes. The
// link's single use and every check of its page hold as they do there.
func (c *Core) RedeemNow(ctx context.Context, r *Requester, link *Link, upload *Upload, opts Options) (*Outcome, error) {
	grant, err := c.CheckLink(link.Token, link.Purpose, r.Principal)
	if err != nil {
		return nil, err
	}
	if link.Purpose == linktoken.PurposeCSR {
		if upload == nil {
			return nil, refuseCSR("This link signs a certificate signing request: send one.")
		}
		return c.SubmitCSR(ctx, grant, *upload)
	}
	return c.RedeemLink(ctx, grant, opts)
}

// Collect issues an approved request of owner's at once: what its pickup
// link's page does.
func (c *Core) Collect(ctx context.Context, owner *Requester, requestID string, opts Options) (*Outcome, error) {
	_, link, err := c.Pickup(owner, requestID)
	if err != nil {
		return nil, err
	}
	return c.RedeemNow(ctx, owner, link, nil, opts)
}

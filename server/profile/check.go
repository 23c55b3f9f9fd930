package profile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

// Unchecked is a step-ca connector CheckStepCA could not judge: its CA
// could not be reached, or its password could not be read. Err says why.
type Unchecked struct {
	Connector string
	Err       error
}

// CheckStepCA asks the CA of every step-ca connector whether its settings
// are right (connector.CheckStepCA): the root fingerprint, the provisioner
// and its password. The CAs are asked at once, each within timeout.
// password turns a stored provisioner password into the clear one (the
// plugin may keep it sealed); nil means it is stored in clear.
//
// A setting a CA shows to be wrong is the error, worded as Parse words its
// errors (connector and field named). A connector that could not be judged
// fails nothing: it is in unchecked, in catalog order, for the caller to
// warn about.
func (c *Catalog) CheckStepCA(ctx context.Context, timeout time.Duration, password func(stored string) (string, error)) (unchecked []Unchecked, err error) {
	type outcome struct {
		name string
		path string
		err  error
	}
	var (
		outcomes []*outcome
		wg       sync.WaitGroup
	)
	for i, conn := range c.Connectors {
		if conn.Type != TypeStepCA || conn.StepCA == nil {
			continue
		}
		o := &outcome{name: conn.Name, path: entryPath("connectors", i)}
		outcomes = append(outcomes, o)
		cfg := conn.StepCA.ConnectorConfig(conn.Name)
		if password != nil {
			plain, perr := password(cfg.ProvisionerPassword)
			if perr != nil {
				o.err = fmt.Errorf("the provisioner password cannot be read: %w", perr)
				continue
			}
			cfg.ProvisionerPassword = plain
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			o.err = connector.CheckStepCA(ctx, cfg)
		})
	}
	wg.Wait()
	for _, o := range outcomes {
		var fieldErr *connector.StepCAConfigError
		switch {
		case o.err == nil:
		case errors.As(o.err, &fieldErr):
			if err == nil {
				field, ferr := stepCAFieldError(o.err)
				err = fmt.Errorf("connectors and profiles: %w", &FieldError{Path: joinPath(o.path, field), Err: fmt.Errorf("connector %q: %w", o.name, ferr)})
			}
		default:
			unchecked = append(unchecked, Unchecked{Connector: o.name, Err: o.err})
		}
	}
	return unchecked, err
}

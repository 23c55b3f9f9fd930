package connector

import "context"

// Check asks the CA whether the connector's settings are right, before any
// user needs a certificate: it fetches the root named by the fingerprint
// (its hash is checked), then, over TLS pinned to that root, finds the
// provisioner and decrypts its key with the password. It signs nothing and
// keeps nothing (each call asks the CA again), so it may run on a connector
// built for the check alone. ctx bounds it; each request also has the
// connector's timeout.
//
// A setting the CA shows to be wrong is a *StepCAConfigError whose Field
// names it (RootFingerprint, Provisioner, ProvisionerPassword or URL), whose
// Message says what is wrong, and whose cause is the connector's *Error
// (KindMisconfigured). A CA that cannot be reached or does not answer in
// time is an *Error of KindUnavailable: nothing is known about the settings
// then. Any other failure is an *Error too.
func (s *StepCA) Check(ctx context.Context) error {
	t, err := s.loadTrust(ctx)
	if err == nil {
		defer t.client.CloseIdleConnections()
		_, err = s.loadKey(ctx, t)
	}
	if err == nil {
		return nil
	}
	ce := AsError(err)
	if ce == nil {
		return s.ctxError(ctx, err)
	}
	if ce.Kind == KindMisconfigured && ce.field != "" {
		return &StepCAConfigError{Field: ce.field, Message: ce.Message, Err: ce}
	}
	return ce
}

// CheckStepCA validates cfg and asks its CA whether the settings are right:
// NewStepCA, then Check. A setting wrong on its face or shown wrong by the
// CA is a *StepCAConfigError; a CA that cannot be asked is an *Error of
// KindUnavailable (see IsUnavailable).
func CheckStepCA(ctx context.Context, cfg StepCAConfig) error {
	s, err := NewStepCA(cfg, nil)
	if err != nil {
		return err
	}
	return s.Check(ctx)
}

// IsUnavailable reports whether err is a connector failure of
// KindUnavailable: the CA could not be reached or did not answer in time.
func IsUnavailable(err error) bool {
	ce := AsError(err)
	return ce != nil && ce.Kind == KindUnavailable
}

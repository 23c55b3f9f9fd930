package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// authority is a test CA: its certificate and the key that signs with it.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return key
}

func serialNumber(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	require.NoError(t, err)
	return n
}

// issue signs template for pub with a (or self-signs when a is nil and
// signer is the template's own key).
func issue(t testing.TB, a *authority, template *x509.Certificate, pub crypto.PublicKey, selfKey crypto.Signer) *x509.Certificate {
	t.Helper()
	template.SerialNumber = serialNumber(t)
	parent, signer := template, selfKey
	if a != nil {
		parent, signer = a.cert, a.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             t0.AddDate(-5, 0, 0),
		NotAfter:              t0.AddDate(20, 0, 0),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func newRoot(t testing.TB, cn string) *authority {
	t.Helper()
	key := newECDSAKey(t)
	return &authority{cert: issue(t, nil, caTemplate(cn), key.Public(), key), key: key}
}

// intermediate issues a CA under a; change, when given, edits its template.
func (a *authority) intermediate(t testing.TB, cn string, change func(*x509.Certificate)) *authority {
	t.Helper()
	key := newECDSAKey(t)
	template := caTemplate(cn)
	if change != nil {
		change(template)
	}
	return &authority{cert: issue(t, a, template, key.Public(), nil), key: key}
}

// attest issues an attestation certificate for pub under a, the way a
// YubiKey's f9 key does, with extensions; change, when given, edits it.
func (a *authority) attest(t testing.TB, pub crypto.PublicKey, extensions []pkix.Extension, change func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	template := &x509.Certificate{
		Subject:         pkix.Name{CommonName: "YubiKey PIV Attestation 9a"},
		NotBefore:       t0.AddDate(-1, 0, 0),
		NotAfter:        t0.AddDate(1, 0, 0),
		ExtraExtensions: extensions,
	}
	if change != nil {
		change(template)
	}
	return issue(t, a, template, pub, nil)
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	require.NoError(t, err)
	return der
}

// yubicoExtensionsOf are the extensions of a YubiKey 5.4.3, serial 12345678,
// slot with PIN policy "once" and touch policy "always", USB-C keychain.
func yubicoExtensionsOf(t testing.TB) []pkix.Extension {
	return []pkix.Extension{
		{Id: OIDYubicoFirmware, Value: []byte{5, 4, 3}},
		{Id: OIDYubicoSerial, Value: mustMarshal(t, 12345678)},
		{Id: OIDYubicoPolicy, Value: []byte{2, 2}},
		{Id: OIDYubicoFormFactor, Value: []byte{3}},
	}
}

// csrPublicKey returns the public key of a CSR signed by key, as the plugin
// sees it after parsing the upload.
func csrPublicKey(t testing.TB, key crypto.Signer) crypto.PublicKey {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	require.NoError(t, err)
	csr, err := x509.ParseCertificateRequest(der)
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature())
	return csr.PublicKey
}

func encodePEM(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

func mustRoots(t testing.TB, certs ...*x509.Certificate) *Roots {
	t.Helper()
	roots, err := ParseRoots(encodePEM(certs...))
	require.NoError(t, err)
	return roots
}

// fixture is a root → device ("f9") hierarchy like Yubico's, and a CSR key.
type fixture struct {
	root, device *authority
	roots        *Roots
	csrKey       crypto.PublicKey
	csrSigner    crypto.Signer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := newRoot(t, "Test PIV Root CA Serial 263751")
	signer := newECDSAKey(t)
	return &fixture{
		root:      root,
		device:    root.intermediate(t, "Test PIV Attestation", nil),
		roots:     mustRoots(t, root.cert),
		csrKey:    csrPublicKey(t, signer),
		csrSigner: signer,
	}
}

// evidence is a good upload for the fixture's CSR key.
func (f *fixture) evidence(t testing.TB) Evidence {
	leaf := f.device.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)
	return Evidence{Certificates: []*x509.Certificate{leaf, f.device.cert}}
}

func requireRefusal(t *testing.T, err error, message string) {
	t.Helper()
	require.Error(t, err)
	require.True(t, IsError(err), "want *Error, got %T: %v", err, err)
	var refusal *Error
	require.ErrorAs(t, err, &refusal)
	assert.Equal(t, message, refusal.Message)
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"":                    PolicyIgnore,
		"ignore":              PolicyIgnore,
		"verify_if_present":   PolicyVerifyIfPresent,
		" Require ":           PolicyRequire,
		"require":             PolicyRequire,
		"VERIFY_IF_PRESENT\n": PolicyVerifyIfPresent,
	} {
		got, err := ParsePolicy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParsePolicy("always")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"always"`)
	assert.False(t, IsError(err), "a configuration error is not a user's refusal")
}

func TestCheckAcceptsYubicoAttestation(t *testing.T) {
	root := newRoot(t, "Test PIV Root CA Serial 263751")
	device := root.intermediate(t, "Test PIV Attestation", nil)
	roots := mustRoots(t, root.cert)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	for name, key := range map[string]crypto.Signer{
		"ECDSA P-256": newECDSAKey(t),
		"RSA-2048":    rsaKey,
	} {
		t.Run(name, func(t *testing.T) {
			leaf := device.attest(t, key.Public(), yubicoExtensionsOf(t), nil)
			evidence := Evidence{Certificates: []*x509.Certificate{leaf, device.cert}}
			for _, policy := range []Policy{PolicyVerifyIfPresent, PolicyRequire} {
				result, err := Check(policy, roots, evidence, csrPublicKey(t, key), t0)
				require.NoError(t, err, policy)
				assert.Equal(t, &Result{
					Attested:        true,
					Format:          FormatYubicoPIV,
					DeviceSerial:    "12345678",
					FirmwareVersion: "5.4.3",
					PINPolicy:       "once",
					TouchPolicy:     "always",
					FormFactor:      "USB-C Keychain",
					Root:            "CN=Test PIV Root CA Serial 263751",
				}, result, policy)
			}
		})
	}
}

func TestCheckRefusesBadAttestations(t *testing.T) {
	f := newFixture(t)
	other := newRoot(t, "Someone Else's Root")
	otherDevice := other.intermediate(t, "Test PIV Attestation", nil)
	exts := yubicoExtensionsOf(t)
	leaf := f.device.attest(t, f.csrSigner.Public(), exts, nil)
	expiredDevice := f.root.intermediate(t, "Test PIV Attestation", func(c *x509.Certificate) {
		c.NotAfter = t0.Add(-time.Hour)
	})

	cases := []struct {
		name    string
		certs   []*x509.Certificate
		now     time.Time
		message string
	}{{
		name:    "attestation of another key",
		certs:   []*x509.Certificate{f.device.attest(t, newECDSAKey(t).Public(), exts, nil), f.device.cert},
		message: msgWrongKey,
	}, {
		name:    "chain to a root that is not configured",
		certs:   []*x509.Certificate{otherDevice.attest(t, f.csrSigner.Public(), exts, nil), otherDevice.cert},
		message: msgUntrusted,
	}, {
		name:    "intermediate missing",
		certs:   []*x509.Certificate{leaf},
		message: msgOnlyLeaf,
	}, {
		name:    "intermediate of another hierarchy",
		certs:   []*x509.Certificate{leaf, otherDevice.cert},
		message: msgUntrusted,
	}, {
		name:    "attestation expired",
		certs:   []*x509.Certificate{leaf, f.device.cert},
		now:     leaf.NotAfter.Add(time.Hour),
		message: msgLeafExpired,
	}, {
		name:    "attestation not valid yet",
		certs:   []*x509.Certificate{leaf, f.device.cert},
		now:     leaf.NotBefore.Add(-time.Hour),
		message: msgLeafNotYet,
	}, {
		name:    "intermediate expired",
		certs:   []*x509.Certificate{expiredDevice.attest(t, f.csrSigner.Public(), exts, nil), expiredDevice.cert},
		message: `the attestation chain's certificate "CN=Test PIV Attestation" has expired`,
	}, {
		name:    "intermediate first",
		certs:   []*x509.Certificate{f.device.cert, leaf},
		message: msgWrongOrder,
	}, {
		name: "unknown critical extension",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(), append(exts[:len(exts):len(exts)],
			pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}), nil), f.device.cert},
		message: msgCritical,
	}, {
		name: "malformed serial number",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(),
			[]pkix.Extension{{Id: OIDYubicoSerial, Value: []byte("12345678")}}, nil), f.device.cert},
		message: "the attestation certificate has a malformed YubiKey extension",
	}, {
		name: "negative serial number",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(),
			[]pkix.Extension{{Id: OIDYubicoSerial, Value: mustMarshal(t, -1)}}, nil), f.device.cert},
		message: "the attestation certificate has a malformed YubiKey extension",
	}, {
		name: "policy of one byte",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(),
			[]pkix.Extension{{Id: OIDYubicoPolicy, Value: []byte{1}}}, nil), f.device.cert},
		message: "the attestation certificate has a malformed YubiKey extension",
	}, {
		name: "form factor of two bytes",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(),
			[]pkix.Extension{{Id: OIDYubicoFormFactor, Value: []byte{1, 2}}}, nil), f.device.cert},
		message: "the attestation certificate has a malformed YubiKey extension",
	}, {
		name: "short firmware version",
		certs: []*x509.Certificate{f.device.attest(t, f.csrSigner.Public(),
			[]pkix.Extension{{Id: OIDYubicoFirmware, Value: []byte{5, 4}}}, nil), f.device.cert},
		message: "the attestation certificate has a malformed YubiKey extension",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			for _, policy := range []Policy{PolicyVerifyIfPresent, PolicyRequire} {
				result, err := Check(policy, f.roots, Evidence{Certificates: tc.certs}, f.csrKey, now)
				assert.Nil(t, result)
				requireRefusal(t, err, tc.message)
			}
		})
	}
}

func TestCheckPolicies(t *testing.T) {
	f := newFixture(t)
	good := f.evidence(t)
	forged := Evidence{Certificates: []*x509.Certificate{newRoot(t, "Forger").cert}}
	noRoots, err := ParseRoots("")
	require.NoError(t, err)

	t.Run("ignore never looks at the evidence", func(t *testing.T) {
		for _, evidence := range []Evidence{{}, good, forged} {
			result, err := Check(PolicyIgnore, nil, evidence, nil, t0)
			require.NoError(t, err)
			assert.Equal(t, &Result{}, result)
		}
	})
	t.Run("verify_if_present accepts a CSR without attestation", func(t *testing.T) {
		for _, roots := range []*Roots{f.roots, noRoots, nil} {
			result, err := Check(PolicyVerifyIfPresent, roots, Evidence{}, f.csrKey, t0)
			require.NoError(t, err)
			assert.False(t, result.Attested)
		}
	})
	t.Run("verify_if_present refuses a forged attestation", func(t *testing.T) {
		_, err := Check(PolicyVerifyIfPresent, f.roots, forged, f.csrKey, t0)
		requireRefusal(t, err, msgOnlyLeaf)
	})
	t.Run("verify_if_present refuses an attestation it cannot check", func(t *testing.T) {
		_, err := Check(PolicyVerifyIfPresent, noRoots, good, f.csrKey, t0)
		requireRefusal(t, err, msgNoRootsUpload)
	})
	t.Run("require refuses a CSR without attestation", func(t *testing.T) {
		_, err := Check(PolicyRequire, f.roots, Evidence{}, f.csrKey, t0)
		requireRefusal(t, err, msgRequired)
	})
	t.Run("require with no roots configured", func(t *testing.T) {
		for _, roots := range []*Roots{noRoots, nil} {
			for _, evidence := range []Evidence{{}, good} {
				_, err := Check(PolicyRequire, roots, evidence, f.csrKey, t0)
				requireRefusal(t, err, msgNoRootsRequire)
			}
		}
	})
	t.Run("unknown policy is the caller's fault", func(t *testing.T) {
		_, err := Check(Policy("sometimes"), f.roots, good, f.csrKey, t0)
		require.Error(t, err)
		assert.False(t, IsError(err))
	})
	t.Run("a CSR key without Equal is the caller's fault", func(t *testing.T) {
		_, err := Check(PolicyRequire, f.roots, good, struct{}{}, t0)
		require.Error(t, err)
		assert.False(t, IsError(err))
	})
}

func TestCheckSharesRootsAcrossGoroutines(t *testing.T) {
	f := newFixture(t)
	evidence := f.evidence(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			result, err := Check(PolicyRequire, f.roots, evidence, f.csrKey, t0)
			assert.NoError(t, err)
			assert.True(t, result != nil && result.Attested)
		})
	}
	wg.Wait()
}

func TestCheckWithoutYubicoExtensions(t *testing.T) {
	f := newFixture(t)
	leaf := f.device.attest(t, f.csrSigner.Public(), nil, nil)
	result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, f.device.cert}}, f.csrKey, t0)
	require.NoError(t, err)
	assert.Equal(t, &Result{Attested: true, Format: FormatX509, Root: "CN=Test PIV Root CA Serial 263751"}, result)
}

func TestCheckYubicoExtensionValues(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		policy, formFactor           []byte
		pin, touch, wantedFormFactor string
	}{
		{[]byte{0, 0}, []byte{1}, "default", "default", "USB-A Keychain"},
		{[]byte{1, 1}, []byte{0x84}, "never", "never", "USB-C Nano FIPS"},
		{[]byte{3, 3}, []byte{0x46}, "always", "cached", "USB-A Bio Keychain CSPN"},
		{[]byte{4, 2}, []byte{5}, "match-once", "always", "USB-C Lightning"},
		{[]byte{9, 255}, []byte{0x0e}, "unknown (9)", "unknown (255)", "unknown (14)"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.policy, tc.formFactor), func(t *testing.T) {
			leaf := f.device.attest(t, f.csrSigner.Public(), []pkix.Extension{
				{Id: OIDYubicoPolicy, Value: tc.policy},
				{Id: OIDYubicoFormFactor, Value: tc.formFactor},
			}, nil)
			result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, f.device.cert}}, f.csrKey, t0)
			require.NoError(t, err)
			assert.Equal(t, FormatYubicoPIV, result.Format)
			assert.Equal(t, tc.pin, result.PINPolicy)
			assert.Equal(t, tc.touch, result.TouchPolicy)
			assert.Equal(t, tc.wantedFormFactor, result.FormFactor)
			assert.Empty(t, result.DeviceSerial)
		})
	}
}

func TestCheckToleratesCriticalYubicoExtensions(t *testing.T) {
	f := newFixture(t)
	var exts []pkix.Extension
	for _, ext := range yubicoExtensionsOf(t) {
		ext.Critical = true
		exts = append(exts, ext)
	}
	leaf := f.device.attest(t, f.csrSigner.Public(), exts, nil)
	require.Len(t, leaf.UnhandledCriticalExtensions, 4)

	result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, f.device.cert}}, f.csrKey, t0)
	require.NoError(t, err)
	assert.Equal(t, "12345678", result.DeviceSerial)
	assert.Len(t, leaf.UnhandledCriticalExtensions, 4, "the caller's certificate is not modified")
}

func TestCheckNewerYubicoHierarchy(t *testing.T) {
	// Firmware 5.7.4 and later: root → PIV intermediate → device → leaf.
	f := newFixture(t)
	piv := f.root.intermediate(t, "Test PIV Attestation B 1", nil)
	device := piv.intermediate(t, "Test PIV Attestation", nil)
	leaf := device.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)

	result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, device.cert, piv.cert}}, f.csrKey, t0)
	require.NoError(t, err)
	assert.True(t, result.Attested)

	_, err = Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, device.cert}}, f.csrKey, t0)
	requireRefusal(t, err, msgUntrusted)
}

func TestCheckDeviceCertificateWithoutBasicConstraints(t *testing.T) {
	f := newFixture(t)
	noConstraints := func(c *x509.Certificate) {
		c.BasicConstraintsValid, c.IsCA = false, false
	}

	t.Run("accepted, like a YubiKey 5.2.4", func(t *testing.T) {
		device := f.root.intermediate(t, "Test PIV Attestation", func(c *x509.Certificate) {
			noConstraints(c)
			c.KeyUsage = 0
		})
		require.False(t, device.cert.BasicConstraintsValid)
		leaf := device.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)

		result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, device.cert}}, f.csrKey, t0)
		require.NoError(t, err)
		assert.True(t, result.Attested)
		assert.False(t, device.cert.IsCA, "the caller's certificate is not modified")
	})
	t.Run("refused with an explicit CA:FALSE", func(t *testing.T) {
		device := f.root.intermediate(t, "Test PIV Attestation", func(c *x509.Certificate) {
			c.IsCA = false
			c.KeyUsage = 0
		})
		require.True(t, device.cert.BasicConstraintsValid)
		leaf := device.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)
		_, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, device.cert}}, f.csrKey, t0)
		requireRefusal(t, err, msgUntrusted)
	})
	t.Run("refused when its key usage forbids signing certificates", func(t *testing.T) {
		device := f.root.intermediate(t, "Test PIV Attestation", func(c *x509.Certificate) {
			noConstraints(c)
			c.KeyUsage = x509.KeyUsageDigitalSignature
		})
		leaf := device.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)
		_, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, device.cert}}, f.csrKey, t0)
		requireRefusal(t, err, msgUntrusted)
	})
	t.Run("refused above another intermediate", func(t *testing.T) {
		// Named like the leaf's issuer, so that it is the one let sign...
		upper := f.root.intermediate(t, "Test PIV Attestation", func(c *x509.Certificate) {
			noConstraints(c)
			c.KeyUsage = 0
		})
		// ...but it signed a CA, which signed the leaf.
		lower := upper.intermediate(t, "Test PIV Attestation", nil)
		leaf := lower.attest(t, f.csrSigner.Public(), yubicoExtensionsOf(t), nil)
		_, err := Check(PolicyRequire, f.roots, Evidence{Certificates: []*x509.Certificate{leaf, lower.cert, upper.cert}}, f.csrKey, t0)
		requireRefusal(t, err, msgUntrusted)
		assert.ErrorContains(t, errors.Unwrap(err), "path length")
	})
}

func TestParseRoots(t *testing.T) {
	rootA := newRoot(t, "Root A")
	rootB := newRoot(t, "Root B")
	nonCA := rootA.attest(t, newECDSAKey(t).Public(), nil, nil)

	t.Run("list", func(t *testing.T) {
		roots, err := ParseRoots("\n" + encodePEM(rootA.cert) + "\n\n" + encodePEM(rootB.cert) + "  \n")
		require.NoError(t, err)
		assert.Equal(t, 2, roots.Len())
		assert.Equal(t, []string{"CN=Root A", "CN=Root B"}, roots.Subjects())
	})
	t.Run("empty", func(t *testing.T) {
		for _, text := range []string{"", " \n\t\n"} {
			roots, err := ParseRoots(text)
			require.NoError(t, err)
			assert.Equal(t, 0, roots.Len())
			assert.Empty(t, roots.Subjects())
		}
		var none *Roots
		assert.Equal(t, 0, none.Len())
		assert.Nil(t, none.Subjects())
	})

	keyPEM := func() string {
		der, err := x509.MarshalPKCS8PrivateKey(newECDSAKey(t))
		require.NoError(t, err)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}()
	lines := strings.Split(encodePEM(rootA.cert), "\n")
	withoutEnd := strings.Join(lines[:len(lines)-2], "\n") + "\n"
	cases := map[string]struct{ text, message string }{
		"garbage":                      {"not a certificate", "unexpected text where a PEM block was expected"},
		"garbage before":               {"# roots\n" + encodePEM(rootA.cert), "unexpected text where a PEM block was expected"},
		"garbage between blocks":       {encodePEM(rootA.cert) + "oops\n" + encodePEM(rootB.cert), "unexpected text after PEM block 1"},
		"garbage after":                {encodePEM(rootA.cert, rootB.cert) + "trailer", "unexpected text after PEM block 2"},
		"block missing its END line":   {withoutEnd + encodePEM(rootB.cert), "block 1 is not valid PEM"},
		"second block truncated":       {encodePEM(rootA.cert) + withoutEnd, "block 2 is not valid PEM"},
		"not a CA":                     {encodePEM(rootA.cert, nonCA), "attestation root 2 (CN=YubiKey PIV Attestation 9a) is not a CA certificate"},
		"private key":                  {encodePEM(rootA.cert) + keyPEM, `attestation root 2: a "PRIVATE KEY" PEM block is not a certificate`},
		"certificate block of garbage": {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "attestation root 1: x509: malformed certificate"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			roots, err := ParseRoots(tc.text)
			assert.Nil(t, roots)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestParseCertificates(t *testing.T) {
	f := newFixture(t)
	evidence := f.evidence(t)
	leaf, device := evidence.Certificates[0], evidence.Certificates[1]

	t.Run("PEM chain", func(t *testing.T) {
		certs, err := ParseCertificates([]byte(encodePEM(leaf, device)))
		require.NoError(t, err)
		require.Len(t, certs, 2)
		assert.Equal(t, leaf.Raw, certs[0].Raw)
		assert.Equal(t, device.Raw, certs[1].Raw)

		result, err := Check(PolicyRequire, f.roots, Evidence{Certificates: certs}, f.csrKey, t0)
		require.NoError(t, err)
		assert.Equal(t, "12345678", result.DeviceSerial)
	})
	t.Run("single DER", func(t *testing.T) {
		certs, err := ParseCertificates(leaf.Raw)
		require.NoError(t, err)
		require.Len(t, certs, 1)
		assert.Equal(t, leaf.Raw, certs[0].Raw)
	})
	t.Run("at most the bounds", func(t *testing.T) {
		var chain []*x509.Certificate
		for range MaxUploadCertificates {
			chain = append(chain, leaf)
		}
		certs, err := ParseCertificates([]byte(encodePEM(chain...)))
		require.NoError(t, err)
		assert.Len(t, certs, MaxUploadCertificates)
	})

	var tooMany []*x509.Certificate
	for range MaxUploadCertificates + 1 {
		tooMany = append(tooMany, leaf)
	}
	tooLarge := []byte(encodePEM(leaf) + strings.Repeat(" ", MaxUploadBytes))
	cases := map[string]struct {
		data    []byte
		message string
	}{
		"empty":                {nil, "the attestation upload is empty"},
		"blank":                {[]byte("\n \n"), "the attestation upload is empty"},
		"garbage":              {[]byte("hello, attestation"), "the attestation upload is neither PEM certificates nor a DER certificate"},
		"DER with trailing":    {append(append([]byte{}, leaf.Raw...), 0), "the attestation upload is neither PEM certificates nor a DER certificate"},
		"garbage around PEM":   {[]byte("see below\n" + encodePEM(leaf)), "the attestation upload is not valid PEM"},
		"too many":             {[]byte(encodePEM(tooMany...)), "the attestation upload has 9 certificates; at most 8 are accepted"},
		"too large":            {tooLarge, "the attestation upload is too large (at most 64 KiB)"},
		"not a certificate":    {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}), `block 1 of the attestation upload is a "CERTIFICATE REQUEST", not a certificate`},
		"certificate is bogus": {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}), "certificate 1 of the attestation upload is not valid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			certs, err := ParseCertificates(tc.data)
			assert.Nil(t, certs)
			requireRefusal(t, err, tc.message)
			assert.Equal(t, tc.message, err.Error(), "the parser's own words stay out of the message")
		})
	}
}

func TestUnreadableAttestationKeepsTheParserErrorForTheLog(t *testing.T) {
	for name, data := range map[string][]byte{
		"DER": []byte("hello, attestation"),
		"PEM": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}),
	} {
		_, err := ParseCertificates(data)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "asn1", name)
		cause := errors.Unwrap(err)
		require.Error(t, cause, name)
		assert.Contains(t, cause.Error(), "x509", name)
	}
}

func TestError(t *testing.T) {
	cause := errors.New("x509: certificate signed by unknown authority")
	err := fmt.Errorf("issue: %w", &Error{Message: msgUntrusted, Err: cause})
	assert.True(t, IsError(err))
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "issue: "+msgUntrusted, err.Error(), "the text is for the user; the cause is for the log")
	assert.Equal(t, cause, errors.Unwrap(errors.Unwrap(err)))
	assert.False(t, IsError(cause))
	assert.False(t, IsError(nil))
}

func FuzzParseCertificates(f *testing.F) {
	root := newRoot(f, "Fuzz Root")
	device := root.intermediate(f, "Fuzz Attestation", nil)
	leaf := device.attest(f, newECDSAKey(f).Public(), yubicoExtensionsOf(f), nil)
	f.Add([]byte(encodePEM(leaf, device.cert)))
	f.Add(leaf.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n"))
	f.Add([]byte("garbage\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			require.True(t, IsError(err), "every failure is a refusal for the user: %v", err)
			require.Nil(t, certs)
			return
		}
		require.NotEmpty(t, certs)
		require.LessOrEqual(t, len(certs), MaxUploadCertificates)
		for _, c := range certs {
			require.NotNil(t, c)
		}
	})
}

//go:build e2e

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

// The crl scenario puts many revoked certificates of the built-in CA in
// the database, then times what a relying party meets: how soon after a
// revocation the list it fetches names it, what the list weighs, and how
// many fetches a second the plugin serves from the list's stored bytes,
// whole or as a 304 to a conditional request.

// crlStats is what the crl scenario measured of revocations; its fetches
// are rows of the report's revocation checks.
type crlStats struct {
	revoked int
	seeded  time.Duration
	// bytes is the size of the list's DER; pemBytes of its PEM.
	bytes, pemBytes int
	// revoke is how long each revocation call took; visible how long after
	// each call began the list a client fetched named it.
	revoke, visible *latencies
	rounds          int
}

// crlPath is the list of the built-in CA's first issuing CA.
const crlPath = "/plugins/" + pluginID + "/crl/builtin.crl"

// seedRevocations writes n revoked certificates of the CA that issuer
// names straight into the plugin's table (one statement), as the revoked
// share of a large company's inventory: random serials of 17 bytes, the
// reasons mixed, expiring within a year.
func seedRevocations(ctx context.Context, dsn, issuer string, n int) (time.Duration, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	der, err := benchCertificateDER()
	if err != nil {
		return 0, err
	}
	now := time.Now().UnixMilli()
	started := time.Now()
	_, err = db.ExecContext(ctx, `INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name,
			key_fingerprint, key_type, fingerprint, origin, profile, not_before, not_after, state, revoked_at, revocation_reason, der, created_at)
		SELECT '1' || md5('crl' || g) , $2, 'builtin', 'mm:crl' || (g % 1000), 'CN=crl' || g, 'crl' || g,
			'crlkey' || g, 'ecdsa-p256', 'crlfp' || g, 'server_key', 'default',
			$3::bigint - 86400000, $3::bigint + (g % 365) * 86400000::bigint + 3600000, 'revoked', $3::bigint - g,
			(ARRAY['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'])[g % 5 + 1], $4, $3::bigint - g
		FROM generate_series(1, $1) AS g`, n, issuer, now, der)
	if err != nil {
		return 0, fmt.Errorf("seed the revocations: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE certs_certificates`); err != nil {
		return 0, err
	}
	return time.Since(started), nil
}

// fetchCRL gets the list, conditionally when etag is set; it returns the
// status, the body and the ETag.
func (s *server) fetchCRL(ctx context.Context, etag string) (int, []byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+crlPath, nil)
	if err != nil {
		return 0, nil, "", err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header.Get("ETag"), err
}

// listLength is how many certificates the list now served names.
func (s *server) listLength(ctx context.Context) (int, error) {
	status, der, _, err := s.fetchCRL(ctx, "")
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %v", crlPath, status, err)
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return 0, err
	}
	return len(list.RevokedCertificateEntries), nil
}

// crlNames reports whether a list (DER) names serial, by its entries.
func crlNames(der []byte, serial *big.Int) (bool, error) {
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return false, err
	}
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// issuingCA is the built-in CA that signs now, from ca.pem.
func (s *server) issuingCA(ctx context.Context) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/plugins/"+pluginID+"/ca.pem", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("ca.pem holds no certificate: %s", data)
	}
	return x509.ParseCertificate(block.Bytes)
}

// crl runs the scenario: seed, then rounds of issue, revoke and fetch
// until the list names it, then the fetches C at once.
func (l *load) crl(ctx context.Context) (*crlStats, []*revocationStats, error) {
	st := &crlStats{revoked: l.o.crlRevoked, rounds: 10, revoke: &latencies{}, visible: &latencies{}}
	fmt.Printf("Revocation list: %d revoked certificates of the built-in CA, then %d revocations and %d fetches\n", st.revoked, st.rounds, l.o.baseline)
	ca, err := l.t.srv.issuingCA(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Earlier scenarios may have revoked some: the list names them too.
	before, err := l.t.srv.listLength(ctx)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(ca.RawSubject)
	if st.seeded, err = seedRevocations(ctx, l.t.dsn, hex.EncodeToString(sum[:]), st.revoked); err != nil {
		return nil, nil, err
	}

	for round := range st.rounds {
		if ctx.Err() != nil {
			break
		}
		a := l.accounts[round%len(l.accounts)]
		token, err := l.t.srv.linkViaAPI(ctx, a, kindDownload, "")
		if err != nil {
			return nil, nil, err
		}
		cert, err := l.t.srv.redeem(ctx, a, token)
		if err != nil {
			return nil, nil, err
		}
		serial, ok := new(big.Int).SetString(cert.serial, 16)
		if !ok {
			return nil, nil, fmt.Errorf("serial %q is not hexadecimal", cert.serial)
		}
		started := time.Now()
		if err := l.t.srv.postJSON(ctx, a, "/plugins/"+pluginID+"/api/v1/certificates/"+cert.serial+"/revoke",
			map[string]string{"reason": "keyCompromise"}, http.StatusOK, nil); err != nil {
			return nil, nil, err
		}
		st.revoke.add(time.Since(started))
		// A relying party's fetch, again and again, until the list names it.
		for {
			status, der, _, err := l.t.srv.fetchCRL(ctx, "")
			if err != nil || status != http.StatusOK {
				return nil, nil, fmt.Errorf("GET %s: %d %v", crlPath, status, err)
			}
			named, err := crlNames(der, serial)
			if err != nil {
				return nil, nil, err
			}
			if named {
				st.visible.add(time.Since(started))
				st.bytes = len(der)
				st.pemBytes = len(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
				if err := checkCRL(der, ca, before+st.revoked+round+1); err != nil {
					return nil, nil, err
				}
				break
			}
			if time.Since(started) > time.Minute {
				return nil, nil, fmt.Errorf("a revocation was not on the list after a minute")
			}
		}
	}

	_, current, etag, err := l.t.srv.fetchCRL(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	noop := l.measureOp(ctx, "no-op plugin request (GET /api/v1/profiles)", min(l.o.baseline, 1000), func(a *account) error {
		return l.t.srv.noopPluginRequest(ctx, a)
	})
	population := fmt.Sprintf("the list of %d revoked certificates (%s)", before+st.revoked+st.rounds, mb(len(current)))
	whole := l.fetches(ctx, "CRL, the whole list", "", func(status int, der []byte) error {
		if status != http.StatusOK || !bytes.Equal(der, current) {
			return fmt.Errorf("GET %s: %d, %d bytes, not the list's stored bytes", crlPath, status, len(der))
		}
		return nil
	})
	again := l.fetches(ctx, "CRL, asked again unchanged (If-None-Match)", etag, func(status int, _ []byte) error {
		if status != http.StatusNotModified {
			return fmt.Errorf("GET %s with If-None-Match %s: %d", crlPath, etag, status)
		}
		return nil
	})
	for _, f := range []*revocationStats{whole, again} {
		f.population, f.noop = population, noop
	}
	whole.mix = "GET, no conditional header; each body compared with the list's stored bytes"
	again.mix = "GET with the ETag of the current list; each answer must be 304"
	return st, []*revocationStats{whole, again}, nil
}

// fetches fetches the list -baseline times, C at once, each answer held
// against check after the timed part.
func (l *load) fetches(ctx context.Context, name, etag string, check func(status int, der []byte) error) *revocationStats {
	n := l.o.baseline
	st := &revocationStats{name: name, concurrency: l.o.concurrency, requests: n, latency: &latencies{}, errors: &errorLog{}, wrong: &errorLog{}}
	type answer struct {
		status int
		der    []byte
	}
	answers := make([]*answer, n)
	l.timeChecks(ctx, st, func(i int) error {
		status, der, _, err := l.t.srv.fetchCRL(ctx, etag)
		if err == nil {
			answers[i] = &answer{status: status, der: der}
		}
		return err
	})
	for _, a := range answers {
		if a == nil {
			continue
		}
		st.checked++
		if err := check(a.status, a.der); err != nil {
			st.wrong.add(err)
		}
	}
	return st
}

// checkCRL checks that a list is the CA's, signed, and as long as wanted.
func checkCRL(der []byte, ca *x509.Certificate, want int) error {
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return err
	}
	if err := list.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("the list's signature: %w", err)
	}
	if got := len(list.RevokedCertificateEntries); got != want {
		return fmt.Errorf("the list names %d certificates, not %d", got, want)
	}
	return nil
}

// crlVisibleTarget is how soon a revocation must be on the list served
// with this many revoked certificates.
const crlVisibleTarget = 2 * time.Second

// printCRL is the scenario's part of the report.
func (r *report) printCRL(b *bytes.Buffer) {
	st := r.crl
	if st == nil {
		return
	}
	fmt.Fprintf(b, "## The revocation list with %d revoked certificates\n\n", st.revoked)
	fmt.Fprintf(b, "%d revoked certificates of the built-in CA written straight into the database in %s; then %d rounds of: issue a "+
		"certificate, revoke it through the API, fetch the list as a relying party does until it names it. The list is %s as DER "+
		"(%s as PEM): what a relying party downloads once for each new list; asking again for an unchanged one, with the ETag it "+
		"got, costs a 304.\n\n", st.revoked, ms(st.seeded), st.rounds, mb(st.bytes), mb(st.pemBytes))
	b.WriteString("| | p50 | p95 | max |\n|:--|--:|--:|--:|\n")
	fmt.Fprintf(b, "| the revocation call (POST /api/v1/certificates/{serial}/revoke) | %s | %s | %s |\n",
		ms(st.revoke.percentile(50)), ms(st.revoke.percentile(95)), ms(st.revoke.percentile(100)))
	fmt.Fprintf(b, "| from the call to a fetched list that names it | %s | %s | %s |\n\n",
		ms(st.visible.percentile(50)), ms(st.visible.percentile(95)), ms(st.visible.percentile(100)))
	worst := st.visible.percentile(100)
	r.hold(fmt.Sprintf("With %d revoked certificates, a revocation is on the served list within %s", st.revoked, crlVisibleTarget),
		fmt.Sprintf("at most %s over %d revocations (p50 %s); the list is %s", ms(worst), st.rounds, ms(st.visible.percentile(50)), mb(st.bytes)),
		len(st.visible.d) == st.rounds && worst <= crlVisibleTarget)
}

func mb(n int) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

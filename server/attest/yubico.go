package attest

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strconv"
)

// Extensions of a YubiKey PIV attestation certificate, as documented at
// https://developers.yubico.com/PIV/Introduction/PIV_attestation.html.
var (
	OIDYubicoFirmware      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	OIDYubicoSerial        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	OIDYubicoPolicy        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	OIDYubicoFormFactor    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
	oidYubicoFIPSCertified = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 10}
	oidYubicoCSPNCertified = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 11}
)

var yubicoExtensions = []asn1.ObjectIdentifier{
	OIDYubicoFirmware, OIDYubicoSerial, OIDYubicoPolicy, OIDYubicoFormFactor,
	oidYubicoFIPSCertified, oidYubicoCSPNCertified,
}

func isYubicoExtension(id asn1.ObjectIdentifier) bool {
	for _, known := range yubicoExtensions {
		if id.Equal(known) {
			return true
		}
	}
	return false
}

// Names of the slot policies, indexed by their byte in the policy extension
// (YKPIV_PINPOLICY_* and YKPIV_TOUCHPOLICY_* in yubico-piv-tool).
var (
	pinPolicyNames   = []string{"default", "never", "once", "always", "match-once", "match-always"}
	touchPolicyNames = []string{"default", "never", "always", "cached"}
)

// Names of the form factors, indexed by the low nibble of the form factor
// byte; its high bits mark FIPS and CSPN editions.
var formFactorNames = []string{
	1: "USB-A Keychain",
	2: "USB-A Nano",
	3: "USB-C Keychain",
	4: "USB-C Nano",
	5: "USB-C Lightning",
	6: "USB-A Bio Keychain",
	7: "USB-C Bio Keychain",
}

const (
	formFactorFIPS = 0x80
	formFactorCSPN = 0x40
)

// readYubicoExtensions reads the device facts a YubiKey records in an
// attestation certificate. The certificate has already been verified, so a
// malformed extension is a device the plugin does not understand, and is
// refused rather than recorded wrongly.
func readYubicoExtensions(c *x509.Certificate) (*Result, error) {
	result := &Result{Format: FormatX509}
	for _, ext := range c.Extensions {
		if !isYubicoExtension(ext.Id) {
			continue
		}
		result.Format = FormatYubicoPIV
		var err error
		switch {
		case ext.Id.Equal(OIDYubicoFirmware):
			result.FirmwareVersion, err = firmwareVersion(ext.Value)
		case ext.Id.Equal(OIDYubicoSerial):
			result.DeviceSerial, err = deviceSerial(ext.Value)
		case ext.Id.Equal(OIDYubicoPolicy):
			result.PINPolicy, result.TouchPolicy, err = slotPolicies(ext.Value)
		case ext.Id.Equal(OIDYubicoFormFactor):
			result.FormFactor, err = formFactor(ext.Value)
		}
		if err != nil {
			return nil, &Error{Message: "the attestation certificate has a malformed YubiKey extension", Err: err}
		}
	}
	return result, nil
}

func firmwareVersion(value []byte) (string, error) {
	if len(value) != 3 {
		return "", fmt.Errorf("firmware version is %d bytes, want 3", len(value))
	}
	return fmt.Sprintf("%d.%d.%d", value[0], value[1], value[2]), nil
}

func deviceSerial(value []byte) (string, error) {
	var serial int64
	rest, err := asn1.Unmarshal(value, &serial)
	if err != nil {
		return "", fmt.Errorf("serial number: %w", err)
	}
	if len(rest) > 0 || serial < 0 {
		return "", fmt.Errorf("serial number is not a single non-negative INTEGER")
	}
	return strconv.FormatInt(serial, 10), nil
}

func slotPolicies(value []byte) (pin, touch string, err error) {
	if len(value) != 2 {
		return "", "", fmt.Errorf("PIN and touch policy is %d bytes, want 2", len(value))
	}
	return nameOf(pinPolicyNames, value[0]), nameOf(touchPolicyNames, value[1]), nil
}

func formFactor(value []byte) (string, error) {
	if len(value) != 1 {
		return "", fmt.Errorf("form factor is %d bytes, want 1", len(value))
	}
	name := nameOf(formFactorNames, value[0]&0x0f)
	if value[0]&formFactorFIPS != 0 {
		name += " FIPS"
	}
	if value[0]&formFactorCSPN != 0 {
		name += " CSPN"
	}
	return name, nil
}

// nameOf names a code, keeping an unknown one visible rather than refusing a
// device newer than this list.
func nameOf(names []string, code byte) string {
	if int(code) < len(names) && names[code] != "" {
		return names[code]
	}
	return fmt.Sprintf("unknown (%d)", code)
}

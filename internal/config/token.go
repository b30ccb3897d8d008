package config

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
)

// DerivedTokenLength is the length of a token derived from the user and
// password: 32 hex digits, 128 bits.
const DerivedTokenLength = 32

// tokenIterations makes each guess at the password from a leaked derived
// token cost as much as this many HMACs (6 ms on a PC, about a tenth of a
// second on a Raspberry Pi, once per start or reload). A token travels in URLs, which
// end up in browser histories and proxy logs; the password must not be
// cheap to recover from it.
const tokenIterations = 20000

// DeriveToken is the access token of a user and password when no -token
// is given: stable while they stay, different when either changes, so
// that DWC's webcam panel and httpViewer work with no more setup than
// -user/-password, and changing the password also retires the token. It
// is PBKDF2-HMAC-SHA256 of the password, salted with the user name, not a
// bare HMAC, so that a leaked token does not allow fast offline guessing
// of the password. It is slow on purpose: callers compute it once per
// configuration, never per request.
func DeriveToken(user, password string) string {
	salt := []byte("usbStream access token\x00" + user)
	key, err := pbkdf2.Key(sha256.New, password, salt, tokenIterations, DerivedTokenLength/2)
	if err != nil {
		// Only a FIPS-only build refuses (a password under 112 bits): a
		// plain HMAC is still a token that changes with the password.
		m := hmac.New(sha256.New, []byte(password))
		m.Write(salt)
		key = m.Sum(nil)[:DerivedTokenLength/2]
	}
	return hex.EncodeToString(key)
}

// AccessToken is the token that opens the pictures in a URL: -token, else
// with basic auth one derived from the user and password, else "" (the
// port is open). It is as slow as DeriveToken.
func (c *Config) AccessToken() string {
	if c.Token != "" {
		return c.Token
	}
	if c.User == "" {
		return ""
	}
	return DeriveToken(c.User, c.Password)
}

// Protected reports whether the port asks for credentials of some kind.
func (c *Config) Protected() bool { return c.User != "" || c.Token != "" }

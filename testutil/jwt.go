package testutil

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math"
	"strconv"
	"strings"
	"time"
)

// JWT verification as the real server does it (RealtimeWeb.JwtVerification and
// ChannelsAuthorization.authorize_conn, docs/protocol.md §1.2, §1.3, §4.4, §8.4), for HS256, HS384
// and HS512 against the tenant secret:
//
//  1. the claims, then the header, must be base64url JSON objects (else "not a valid JWT");
//  2. the header's alg must be HS256, HS384 or HS512 (else "Failed to generate JWT signer");
//  3. the signature must match (else "Failed to validate JWT signature");
//  4. exp, when present, must be after now, in whole Unix seconds (else "Token has expired");
//  5. role and exp must both be present (else "Fields `role` and `exp` are required").
//
// No other claim is validated (the server's jwt_claim_validators are empty by default).

// jwtErrKind says why a token was refused.
type jwtErrKind int

const (
	jwtOK jwtErrKind = iota
	jwtMalformed
	jwtSigner
	jwtSignature
	jwtExpired
	jwtMissingClaims
)

// jwtError is a refused token: its kind and, when expired, how many whole seconds ago.
type jwtError struct {
	kind jwtErrKind
	ago  int64 // seconds since exp, for jwtExpired
}

// Messages of the server for refused tokens.
const (
	msgMalformedJWT  = "The token provided is not a valid JWT"
	msgSignerJWT     = "Failed to generate JWT signer, check your JWT secret or JWKS configuration"
	msgSignatureJWT  = "Failed to validate JWT signature"
	msgMissingClaims = "Fields `role` and `exp` are required in JWT"
	msgExpiredJWT    = "Token has expired"
)

// socketMessage is the {"error": …} text of a refused upgrade (docs/protocol.md §1.3).
func (e jwtError) socketMessage() string {
	switch e.kind {
	case jwtSigner:
		return msgSignerJWT
	case jwtSignature:
		return msgSignatureJWT
	case jwtExpired:
		return msgExpiredJWT
	case jwtMissingClaims:
		return msgMissingClaims
	}
	return msgMalformedJWT
}

// joinReason is the reason of a refused join (docs/protocol.md §4.4).
func (e jwtError) joinReason() string {
	switch e.kind {
	case jwtSigner:
		return "JwtSignerError: " + msgSignerJWT
	case jwtSignature:
		return "JwtSignatureError: " + msgSignatureJWT
	case jwtExpired:
		return "InvalidJWTToken: " + e.shutdownMessage()
	case jwtMissingClaims:
		return "InvalidJWTToken: " + msgMissingClaims
	}
	return "MalformedJWT: " + msgMalformedJWT
}

// shutdownMessage is the message of the system error that shuts a channel whose token failed
// (docs/protocol.md §8.4).
func (e jwtError) shutdownMessage() string {
	if e.kind == jwtExpired {
		return msgExpiredJWT + " " + strconv.FormatInt(e.ago, 10) + " seconds ago"
	}
	return e.socketMessage()
}

// hmacAlgs are the algorithms verified with the secret.
var hmacAlgs = map[string]func() hash.Hash{
	"HS256": sha256.New,
	"HS384": sha512.New384,
	"HS512": sha512.New,
}

// decodeSegment decodes a base64url segment, with or without padding.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// peekClaims decodes the claims of a token without verifying it; nil if it has no JSON object
// as its second segment.
func peekClaims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := decodeSegment(parts[1])
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(b, &claims) != nil {
		return nil
	}
	return claims
}

// verifyJWT checks token against secret at now, like the real server, and returns its claims.
func verifyJWT(token, secret string, now time.Time) (map[string]any, jwtError) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, jwtError{kind: jwtMalformed}
	}
	claims := peekClaims(token)
	if claims == nil {
		return nil, jwtError{kind: jwtMalformed}
	}
	hb, err := decodeSegment(parts[0])
	var header map[string]any
	if err != nil || json.Unmarshal(hb, &header) != nil || header == nil {
		return nil, jwtError{kind: jwtMalformed}
	}
	alg, _ := header["alg"].(string)
	newHash, ok := hmacAlgs[alg]
	if !ok {
		return nil, jwtError{kind: jwtSigner}
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, jwtError{kind: jwtSignature}
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, jwtError{kind: jwtSignature}
	}
	exp, hasExp := claims["exp"]
	if hasExp {
		e, isNum := exp.(float64)
		if !isNum {
			// The server compares Erlang terms here; a non-numeric exp is treated as missing.
			return nil, jwtError{kind: jwtMissingClaims}
		}
		if nowSec := now.Unix(); !(e > float64(nowSec)) {
			return nil, jwtError{kind: jwtExpired, ago: nowSec - int64(math.Floor(e))}
		}
	}
	if _, hasRole := claims["role"]; !hasRole || !hasExp {
		return nil, jwtError{kind: jwtMissingClaims}
	}
	return claims, jwtError{}
}

// tokenExp returns the exp claim of verified claims as a time.
func tokenExp(claims map[string]any) (time.Time, bool) {
	e, ok := claims["exp"].(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(math.Floor(e)), 0), true
}

// SignJWT returns an HS256 JWT of claims signed with secret, with the header
// {"alg":"HS256","typ":"JWT"}, for tests of servers started [WithJWTSecret]. The real server
// requires the claims role and exp (Unix seconds), for example:
//
//	token := testutil.SignJWT(secret, map[string]any{
//		"role": "authenticated",
//		"exp":  time.Now().Add(time.Hour).Unix(),
//	})
//
// It panics if claims cannot be encoded as JSON.
func SignJWT(secret string, claims map[string]any) string {
	if claims == nil {
		claims = map[string]any{}
	}
	body, err := json.Marshal(claims)
	if err != nil {
		panic("testutil: SignJWT: " + err.Error())
	}
	signing := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

package grpcfront

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/sluice-mq/sluice/remoting"
)

// verify checks the authorization header against the account's secret
// and returns the account's credentials, with which the front signs the
// remoting request so the plain ACL checks its permissions.
func verify(md metadata.MD, secretOf func(string) (string, bool)) (*remoting.Credentials, error) {
	auth := first(md, "authorization")
	date := first(md, "x-mq-date-time")
	if auth == "" {
		return nil, grpcstatus.Error(codes.Unauthenticated, "UNAUTHORIZED: no authorization header; ACL is on")
	}
	rest, ok := strings.CutPrefix(auth, "MQv2-HMAC-SHA1 ")
	if !ok {
		return nil, grpcstatus.Error(codes.Unauthenticated, "UNAUTHORIZED: authorization must be MQv2-HMAC-SHA1")
	}
	var ak, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			ak = v
			if i := strings.IndexByte(ak, '/'); i >= 0 { // Credential=<ak>/<region>/<service> in older clients
				ak = ak[:i]
			}
		case "Signature":
			sig = v
		}
	}
	secret, ok := secretOf(ak)
	if !ok || ak == "" {
		return nil, grpcstatus.Errorf(codes.Unauthenticated, "UNAUTHORIZED: no account %q", ak)
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(date))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return nil, grpcstatus.Error(codes.Unauthenticated, "UNAUTHORIZED: signature does not match")
	}
	return &remoting.Credentials{AccessKey: ak, SecretKey: secret}, nil
}

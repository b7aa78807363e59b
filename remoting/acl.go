package remoting

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
)

// The ext fields RocketMQ's plain ACL adds to a request
// (SessionCredentials), and the one it leaves out of the signed content
// besides Signature (MixAll.UNIQUE_MSG_QUERY_FLAG, which the broker adds to
// a forwarded QUERY_MESSAGE after the client signed it).
const (
	ExtAccessKey       = "AccessKey"
	ExtSignature       = "Signature"
	ExtSecurityToken   = "SecurityToken"
	ExtUniqueKeyQuery  = "_UNIQUE_KEY_QUERY"
	SignatureBase64Len = 28 // base64 of a 20-byte HmacSHA1
)

// Credentials are a plain-ACL account's keys, as a client holds them
// (SessionCredentials; the Go client's primitive.Credentials).
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// Empty reports whether there is nothing to sign with.
func (c Credentials) Empty() bool { return c.AccessKey == "" || c.SecretKey == "" }

// Sign adds AccessKey, SecurityToken (if any) and Signature to cmd's ext
// fields, as AclClientRPCHook does. It replaces cmd's header with a copy in
// ExtFields so that a caller's map (often reused between requests) is left
// untouched.
func (c Credentials) Sign(cmd *Command) {
	ext := make(map[string]string, cmd.ExtLen()+3)
	cmd.RangeExt(func(k, v string) bool {
		ext[k] = v
		return true
	})
	cmd.Fields = nil
	ext[ExtAccessKey] = c.AccessKey
	if c.SecurityToken != "" {
		ext[ExtSecurityToken] = c.SecurityToken
	}
	delete(ext, ExtSignature)
	cmd.ExtFields = ext
	var keys []string
	content := AppendSignedContent(nil, &keys, cmd)
	ext[ExtSignature] = string(SignContent(nil, content, cmd.Body, []byte(c.SecretKey)))
}

// AppendSignedContent appends what RocketMQ signs before the body
// (AclUtils#combineRequestContent): the ext-field values in the order of
// their keys, leaving out Signature and _UNIQUE_KEY_QUERY. keys is scratch
// space for the sort, reused by callers that verify many requests.
func AppendSignedContent(dst []byte, keys *[]string, cmd *Command) []byte {
	ks := (*keys)[:0]
	for i := range cmd.Fields {
		if k := cmd.Fields[i].Key; k != ExtSignature && k != ExtUniqueKeyQuery {
			ks = append(ks, k)
		}
	}
	for k := range cmd.ExtFields {
		if k != ExtSignature && k != ExtUniqueKeyQuery {
			ks = append(ks, k)
		}
	}
	// Java's TreeMap orders by UTF-16 code units, Go by bytes: the same
	// order for the ASCII keys RocketMQ headers use.
	slices.Sort(ks)
	for _, k := range ks {
		dst = append(dst, cmd.Ext(k)...)
	}
	*keys = ks
	return dst
}

// SignContent appends the Base64 HmacSHA1 of content followed by body
// under secret (AclSigner#calSignature).
func SignContent(dst, content, body, secret []byte) []byte {
	mac := hmac.New(sha1.New, secret)
	mac.Write(content)
	mac.Write(body)
	var sum [sha1.Size]byte
	var enc [SignatureBase64Len]byte
	base64.StdEncoding.Encode(enc[:], mac.Sum(sum[:0]))
	return append(dst, enc[:]...)
}

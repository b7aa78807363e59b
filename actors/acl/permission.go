package acl

import (
	"fmt"
	"strings"
)

// Permission bits (org.apache.rocketmq.acl.common.Permission).
const (
	PermDeny byte = 1
	PermAny  byte = 1 << 1
	PermPub  byte = 1 << 2
	PermSub  byte = 1 << 3
)

// parsePerm is Permission#parsePermFromString: anything unknown, and a
// missing value, is DENY.
func parsePerm(s string) byte {
	switch strings.TrimSpace(s) {
	case "PUB":
		return PermPub
	case "SUB":
		return PermSub
	case "PUB|SUB", "SUB|PUB":
		return PermPub | PermSub
	}
	return PermDeny
}

// checkPermission is Permission#checkPermission.
func checkPermission(needed, owned byte) bool {
	if owned&PermDeny != 0 {
		return false
	}
	if needed&PermAny != 0 {
		return owned&(PermPub|PermSub) != 0
	}
	return needed&owned != 0
}

// parseResourcePerms reads "name=PERM" entries (Permission#parseResourcePerms).
func parseResourcePerms(kind string, entries []string) (map[string]byte, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	m := make(map[string]byte, len(entries))
	for _, e := range entries {
		name, perm, ok := strings.Cut(e, "=")
		if !ok || strings.Contains(perm, "=") || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("Parse resource permission failed for %s:%s", kind, e)
		}
		m[strings.TrimSpace(name)] = parsePerm(perm)
	}
	return m, nil
}

// checkResourcePerms is Permission#checkResourcePerms, run on what an
// UPDATE_AND_CREATE_ACL_CONFIG asks for.
func checkResourcePerms(entries []string) error {
	for _, e := range entries {
		_, perm, ok := strings.Cut(e, "=")
		if !ok || strings.Contains(perm, "=") {
			return fmt.Errorf("Parse Resource format error for %s.\nThe expected resource format is 'Res=Perm'. For example: topicA=SUB", e)
		}
		if p := strings.TrimSpace(perm); p != "DENY" && parsePerm(p) == PermDeny {
			return fmt.Errorf("Parse resource permission error for %s.\nThe expected permissions are 'SUB' or 'PUB' or 'SUB|PUB' or 'PUB|SUB'.", e)
		}
	}
	return nil
}

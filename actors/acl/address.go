package acl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// remoteAddressStrategy is RocketMQ's RemoteAddressStrategy: one parsed
// whiteRemoteAddress or globalWhiteRemoteAddresses entry.
type remoteAddressStrategy struct {
	kind   addrKind
	one    netip.Addr
	set    map[netip.Addr]struct{}
	prefix netip.Prefix
	// lo and hi bound every segment of a range: 4 of them for IPv4
	// (0..255), 8 for IPv6 (0..0xffff).
	v6     bool
	lo, hi [8]uint16
}

type addrKind uint8

const (
	addrBlank    addrKind = iota // "" matches nothing (BlankRemoteAddressStrategy)
	addrAny                      // "*", "*.*.*.*", "*:*:*:*:*:*:*:*" (NullRemoteAddressStrategy)
	addrOne                      // one address (OneRemoteAddressStrategy)
	addrMultiple                 // "a,b,c" or "192.168.0.{1,2}" (MultipleRemoteAddressStrategy)
	addrRange                    // "192.168.1.1-5", "192.168.*.*", "2::ac5:1-200:*" (RangeRemoteAddressStrategy)
	addrCIDR                     // "10.0.0.0/8", "fd00::/8" (ours: RocketMQ 4.9 has no CIDR)
)

// parseRemoteAddress is RemoteAddressStrategyFactory#getRemoteAddressStrategy.
// A range matches segment by segment, so "192.168.*.1" matches only
// addresses ending in .1 (RocketMQ ignores the segments after the first
// wildcard); everything else reads as RocketMQ reads it.
func parseRemoteAddress(s string) (remoteAddressStrategy, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return remoteAddressStrategy{kind: addrBlank}, nil
	case s == "*" || s == "*.*.*.*" || s == "*:*:*:*:*:*:*:*":
		return remoteAddressStrategy{kind: addrAny}, nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return remoteAddressStrategy{}, fmt.Errorf("netaddress examine exception: %q is not a CIDR prefix", s)
		}
		return remoteAddressStrategy{kind: addrCIDR, prefix: p.Masked()}, nil
	case strings.HasSuffix(s, "}"):
		open := strings.LastIndexByte(s, '{')
		sep := "."
		if strings.Contains(s, ":") {
			sep = ":"
		}
		if open < 0 || (open > 0 && !strings.HasSuffix(s[:open], sep)) {
			return remoteAddressStrategy{}, fmt.Errorf("MultipleRemoteAddressStrategy netaddress examine scope exception: %q", s)
		}
		if sep == "." && strings.Count(s[:open], ".") != 3 {
			return remoteAddressStrategy{}, fmt.Errorf("MultipleRemoteAddressStrategy has got a wrong format IP: %q", s)
		}
		var addrs []string
		for _, last := range strings.Split(s[open+1:len(s)-1], ",") {
			addrs = append(addrs, s[:open]+strings.TrimSpace(last))
		}
		return multiple(addrs)
	case strings.Contains(s, ","):
		return multiple(strings.Split(s, ","))
	case strings.ContainsAny(s, "*-"):
		return parseRange(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return remoteAddressStrategy{}, fmt.Errorf("netaddress examine exception: netaddress is %s", s)
	}
	return remoteAddressStrategy{kind: addrOne, one: a.Unmap()}, nil
}

func multiple(addrs []string) (remoteAddressStrategy, error) {
	st := remoteAddressStrategy{kind: addrMultiple, set: make(map[netip.Addr]struct{}, len(addrs))}
	for _, s := range addrs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return remoteAddressStrategy{}, fmt.Errorf("netaddress examine exception: netaddress is %s", s)
		}
		st.set[a.Unmap()] = struct{}{}
	}
	return st, nil
}

// parseRange reads every segment as "*", "lo-hi" or a number; missing
// trailing segments after a "*" are wildcards too ("1:2:3:*").
func parseRange(s string) (remoteAddressStrategy, error) {
	st := remoteAddressStrategy{kind: addrRange}
	bad := func() (remoteAddressStrategy, error) {
		return remoteAddressStrategy{}, fmt.Errorf("RangeRemoteAddressStrategy netaddress examine scope exception: %q", s)
	}
	var segs []string
	base, max, n := 10, uint64(255), 4
	if strings.Contains(s, ":") {
		st.v6, base, max, n = true, 16, 0xffff, 8
		if i := strings.Index(s, "::"); i >= 0 {
			var left, right []string
			if i > 0 {
				left = strings.Split(s[:i], ":")
			}
			if rest := s[i+2:]; rest != "" {
				right = strings.Split(rest, ":")
			}
			fill := n - len(left) - len(right)
			if fill < 1 {
				return bad()
			}
			segs = append(segs, left...)
			for ; fill > 0; fill-- {
				segs = append(segs, "0")
			}
			segs = append(segs, right...)
		} else {
			segs = strings.Split(s, ":")
		}
	} else {
		segs = strings.Split(s, ".")
	}
	for len(segs) < n && len(segs) > 0 && segs[len(segs)-1] == "*" {
		segs = append(segs, "*")
	}
	if len(segs) != n {
		return bad()
	}
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		lo, hi := seg, seg
		if seg == "*" {
			st.lo[i], st.hi[i] = 0, uint16(max)
			continue
		}
		if a, b, ok := strings.Cut(seg, "-"); ok {
			lo, hi = a, b
		}
		l, err1 := strconv.ParseUint(lo, base, 16)
		h, err2 := strconv.ParseUint(hi, base, 16)
		if err1 != nil || err2 != nil || l > h || h > max {
			return bad()
		}
		st.lo[i], st.hi[i] = uint16(l), uint16(h)
	}
	return st, nil
}

// match is RemoteAddressStrategy#match for a parsed client address (the
// zero Addr when the address could not be read: only "*" matches it).
func (st *remoteAddressStrategy) match(a netip.Addr) bool {
	switch st.kind {
	case addrAny:
		return true
	case addrBlank:
		return false
	}
	if !a.IsValid() {
		return false
	}
	switch st.kind {
	case addrOne:
		return a == st.one
	case addrMultiple:
		_, ok := st.set[a]
		return ok
	case addrCIDR:
		return st.prefix.Contains(a)
	case addrRange:
		if a.Is4() == st.v6 {
			return false
		}
		if a.Is4() {
			b := a.As4()
			for i := range 4 {
				if uint16(b[i]) < st.lo[i] || uint16(b[i]) > st.hi[i] {
					return false
				}
			}
			return true
		}
		b := a.As16()
		for i := range 8 {
			g := uint16(b[2*i])<<8 | uint16(b[2*i+1])
			if g < st.lo[i] || g > st.hi[i] {
				return false
			}
		}
		return true
	}
	return false
}

// parseClientAddr turns a connection's host:port into an address, as
// PlainAccessValidator#parse strips the port.
func parseClientAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

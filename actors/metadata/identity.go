package metadata

import "net/netip"

// BrokerIdentity is what request handlers need to know about the broker
// they run in.
type BrokerIdentity struct {
	ClusterName string
	BrokerName  string
	BrokerID    int64
	// StoreHost is brokerIP1:listenPort, written into every record and into
	// every offsetMsgId.
	StoreHost netip.AddrPort
	// RegionID is answered in MSG_REGION ("DefaultRegion").
	RegionID string
	// MaxMessageSize is the body limit (maxMessageSize).
	MaxMessageSize int
}

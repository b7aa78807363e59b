package main

import (
	"fmt"

	"github.com/sluice-mq/sluice/actors/tree"
)

// haSummary is the one line of a replication node: a master's HA service
// (slaves, what they acknowledged, SYNC_MASTER's wait), one slave
// connection (acked offset, lag, bytes sent) or a slave's link.
func haSummary(h *tree.HAInfo) cell {
	switch {
	case h.Slave != nil:
		s := h.Slave
		c := plain(fmt.Sprintf("slave %s acked %d, lag %d bytes, sent %d bytes", s.Addr, s.AckedOffset, s.LagBytes, s.BytesSent))
		if s.LagBytes > 0 {
			c.color = colYellow
		}
		return c
	case h.Client != nil:
		cl := h.Client
		state := "connected"
		if !cl.Connected {
			state = "not connected"
		}
		c := plain(fmt.Sprintf("%s, master %s %s, max offset %d, last report %d, reconnects %d", h.Role, cl.MasterAddr, state, cl.MaxOffset, cl.LastReport, cl.Reconnects))
		if !cl.Connected {
			c.color = colRed
		}
		return c
	}
	c := plain(fmt.Sprintf("%s on %s, %s, max offset %d, slaves acked %d", h.Role, h.ListenAddr, plural(h.Slaves, "slave"), h.MaxOffset, h.Push2SlaveMaxOffset))
	if h.WaitingBatches > 0 {
		c.text += fmt.Sprintf(", %d batches waiting (oldest %s)", h.WaitingBatches, duration(h.OldestWaitMillis))
	}
	if h.Role == "SYNC_MASTER" && h.Slaves == 0 {
		c.color = colRed
	}
	return c
}

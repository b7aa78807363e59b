package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mq/sluice/actors/tree"
)

// Replication (commitlog/ha), from the HA actors' nodes.
var (
	descHASlaves     = newDesc("ha_slaves", "Slaves connected to this master's HA port.")
	descHAAcked      = newDesc("ha_push2slave_max_offset", "The highest commit-log offset a slave has acknowledged (push2SlaveMaxOffset).")
	descHAWaiting    = newDesc("ha_waiting_batches", "SYNC_MASTER batches waiting for a slave's acknowledgement.")
	descHAOldestWait = newDesc("ha_oldest_wait_seconds", "How long the oldest SYNC_MASTER batch has waited for a slave: the replication lag sends see.")
	descHAFailures   = newDesc("ha_sync_failures_total", "SYNC_MASTER batches not acknowledged by a slave, by answer.", "status")
	descHASlaveLag   = newDesc("ha_slave_lag_bytes", "The master's max offset minus the slave's acknowledged one.", "slave")
	descHASlaveSent  = newDesc("ha_slave_sent_bytes_total", "Commit-log bytes streamed to the slave.", "slave")
	descHAConnected  = newDesc("ha_client_connected", "1 while this slave's link to its master is up.")
	descHAReceived   = newDesc("ha_client_received_bytes_total", "Commit-log bytes this slave received and appended.")
	descHAReconnects = newDesc("ha_client_reconnects_total", "Links to the master this slave lost or could not make.")
	descHAMaxOffset  = newDesc("ha_max_offset", "The local commit log's end, as the HA service or client sees it.")
	descHALastReport = newDesc("ha_client_reported_offset", "The offset this slave last reported to its master.")
)

var haDescs = []*prometheus.Desc{
	descHASlaves, descHAAcked, descHAWaiting, descHAOldestWait, descHAFailures, descHASlaveLag, descHASlaveSent,
	descHAConnected, descHAReceived, descHAReconnects, descHAMaxOffset, descHALastReport,
}

func collectHA(ch chan<- prometheus.Metric, h *tree.HAInfo) {
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	c := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	switch {
	case h.Slave != nil:
		g(descHASlaveLag, float64(h.Slave.LagBytes), h.Slave.Addr)
		c(descHASlaveSent, float64(h.Slave.BytesSent), h.Slave.Addr)
	case h.Client != nil:
		connected := 0.0
		if h.Client.Connected {
			connected = 1
		}
		g(descHAConnected, connected)
		c(descHAReceived, float64(h.Client.BytesReceived))
		c(descHAReconnects, float64(h.Client.Reconnects))
		g(descHAMaxOffset, float64(h.MaxOffset))
		g(descHALastReport, float64(h.Client.LastReport))
	default:
		g(descHASlaves, float64(h.Slaves))
		g(descHAAcked, float64(h.Push2SlaveMaxOffset))
		g(descHAWaiting, float64(h.WaitingBatches))
		g(descHAOldestWait, float64(h.OldestWaitMillis)/1000)
		c(descHAFailures, float64(h.FlushSlaveTimeouts), "FLUSH_SLAVE_TIMEOUT")
		c(descHAFailures, float64(h.SlaveNotAvailable), "SLAVE_NOT_AVAILABLE")
		g(descHAMaxOffset, float64(h.MaxOffset))
	}
}

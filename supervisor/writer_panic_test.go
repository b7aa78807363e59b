package supervisor_test

import (
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// Through TCP: a send whose append panics inside the writer is answered
// SYSTEM_ERROR at once — not left to time out — the panic is logged, and
// the restarted writer stores the next send.
func TestWriterPanicStillAnswersTheSend(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.FaultInjectionEnable = true
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	setFault(t, c, map[string]string{"writerPanic": "true"})
	resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("PanicTopic", 0, ""), []byte("lost to a panic")))
	if resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "writer panicked") {
		t.Fatalf("send during the panic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("PanicTopic", 0, ""), []byte("after the restart")))
	if resp.ResponseCode() != remoting.Success || resp.Ext("queueOffset") != "0" {
		t.Fatalf("send after the restart: %s %q %v", resp.ResponseCode(), resp.Remark, resp.ExtMap())
	}
	if b.Logs.Count("actor panicked; restarting it") == 0 {
		t.Fatal("the writer's panic was not logged")
	}
}

package namesrv_test

import (
	"encoding/json"
	"testing"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// QUERY_DATA_VERSION as a Java broker asks it before registering: changed
// until its version is the registered one, and the name server's version
// in the body.
func TestQueryDataVersion(t *testing.T) {
	ns := startNameServer(t)
	c := dial(t, ns.addr)
	hdr := map[string]string{"brokerAddr": "127.0.0.1:10911", "brokerName": "b", "clusterName": "DefaultCluster", "brokerId": "0"}
	v1 := []byte(`{"counter":1,"timestamp":1700000000000}`)
	if resp := invoke(t, c, remoting.QueryDataVersion, hdr, v1); resp.Ext("changed") != "true" || len(resp.Body) != 0 {
		t.Fatalf("unknown broker: %v %s", resp.ExtMap(), resp.Body)
	}
	body := registerBody(1, testTopic("T", 4))
	expect(t, invoke(t, c, remoting.RegisterBroker, registerHeader("b", "127.0.0.1:10911", 0, body), body), remoting.Success, "")
	resp := invoke(t, c, remoting.QueryDataVersion, hdr, v1)
	var got metadata.DataVersion
	if resp.Ext("changed") != "false" || json.Unmarshal(resp.Body, &got) != nil || got.Counter != 1 {
		t.Fatalf("same version: %v %s", resp.ExtMap(), resp.Body)
	}
	if resp := invoke(t, c, remoting.QueryDataVersion, hdr, []byte(`{"counter":2,"timestamp":1700000000001}`)); resp.Ext("changed") != "true" {
		t.Fatalf("newer version: %v", resp.ExtMap())
	}
	// KV config through the handlers too.
	kv := map[string]string{"namespace": "NS", "key": "k", "value": "v"}
	expect(t, invoke(t, c, remoting.PutKVConfig, kv, nil), remoting.Success, "")
	if resp := invoke(t, c, remoting.GetKVConfig, kv, nil); resp.Ext("value") != "v" {
		t.Fatalf("kv: %v", resp.ExtMap())
	}
	expect(t, invoke(t, c, remoting.GetKVConfig, map[string]string{"namespace": "NS", "key": "nope"}, nil), remoting.QueryNotFound, "No config item, Namespace: NS Key: nope")
	expect(t, invoke(t, c, remoting.UpdateNamesrvConfig, nil, []byte("x=1")), remoting.NoPermission, "no name server setting can change at run time: refused x=1")
}

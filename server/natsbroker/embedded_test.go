package natsbroker

import (
	"strings"
	"testing"
)

func TestStartEmbeddedRefusesBadArguments(t *testing.T) {
	cases := []struct{ addr, dir, want string }{
		{"localhost", t.TempDir(), "host:port"},
		{"127.0.0.1:x", t.TempDir(), "bad port"},
		{"127.0.0.1:0", "", "data directory"},
	}
	for _, c := range cases {
		ns, err := StartEmbedded(c.addr, c.dir)
		if err == nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			t.Errorf("StartEmbedded(%q, %q) started", c.addr, c.dir)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("StartEmbedded(%q, %q) = %v, want it to mention %q", c.addr, c.dir, err, c.want)
		}
	}
}

func TestStartEmbeddedServesJetStream(t *testing.T) {
	ns := startNATS(t)
	nc := connect(t, ns.ClientURL())
	if !nc.IsConnected() || !ns.JetStreamEnabled() {
		t.Fatalf("connected %v, JetStream %v", nc.IsConnected(), ns.JetStreamEnabled())
	}
}

package natsbroker

import (
	"testing"

	"github.com/chatd/chatd/server"
	"github.com/chatd/chatd/server/brokertest"
)

// TestBroker runs the suite every server.Broker passes against a broker on a
// fresh JetStream each time.
func TestBroker(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) server.Broker {
		ns := startNATS(t)
		nc := connect(t, ns.ClientURL())
		b, err := New(t.Context(), nc, fastOptions())
		if err != nil {
			t.Fatal(err)
		}
		return b // the suite closes it
	})
}

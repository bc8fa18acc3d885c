package server_test

import (
	"testing"

	"github.com/chatd/chatd/server"
	"github.com/chatd/chatd/server/brokertest"
)

func TestMemoryBroker(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) server.Broker {
		return server.NewMemoryBroker(server.MemoryBrokerOptions{})
	})
}

package api

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the package itself
// starts none; some tests do, to exercise concurrency).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

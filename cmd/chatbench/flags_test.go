package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{"defaults", nil, "", func(t *testing.T, c *config) {
			o := c.options("fanout")
			if c.scenario != "fanout" || c.server != "self" || c.client != "wire" || o.Conns != 1000 || o.Senders != 10 || o.Size != 130 || !o.SourceIPs {
				t.Errorf("config %+v options %+v", c, o)
			}
		}},
		{"given flags override the scenario's defaults", []string{"--scenario", "idle", "--conns", "19000", "--rooms", "0", "--duration", "1s"}, "", func(t *testing.T, c *config) {
			o := c.options("idle")
			if o.Conns != 19000 || o.Rooms != 0 || o.Duration != time.Second {
				t.Errorf("options %+v", o)
			}
			if l := c.options("latency"); l.Conns != 19000 || l.Rate != 10 {
				t.Errorf("latency options %+v", l)
			}
		}},
		{"server URL normalised", []string{"--server", "http://127.0.0.1:8000"}, "", func(t *testing.T, c *config) {
			if c.server != "ws://127.0.0.1:8000/ws" {
				t.Errorf("server %q", c.server)
			}
		}},
		{"wss kept", []string{"--server", "wss://chat.example/ws"}, "", func(t *testing.T, c *config) {
			if c.server != "wss://chat.example/ws" {
				t.Errorf("server %q", c.server)
			}
		}},
		{"child mode", []string{"--serve-baseline", "127.0.0.1:0"}, "", func(t *testing.T, c *config) {
			if c.serve != "baseline" || c.listen != "127.0.0.1:0" {
				t.Errorf("serve %q listen %q", c.serve, c.listen)
			}
		}},
		{"unknown scenario", []string{"--scenario", "storm"}, `--scenario "storm"`, nil},
		{"bad server", []string{"--server", "ftp://x"}, "scheme", nil},
		{"no host", []string{"--server", "nonsense"}, "want self or a URL", nil},
		{"bad client", []string{"--client", "curl"}, "--client", nil},
		{"negative conns", []string{"--conns", "-1"}, "--conns must not be negative", nil},
		{"step of 1", []string{"--step", "1"}, "--step must be above 1", nil},
		{"stray argument", []string{"fanout"}, "unexpected arguments", nil},
		{"both child modes", []string{"--serve-chatd", ":0", "--serve-baseline", ":0"}, "exclude each other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	_, err := parseFlags([]string{"--help"}, &b)
	if !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--scenario", "--conns", "--senders", "--rate", "--duration", "--size", "--rooms", "--baseline", "--json", "--server", "churn"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
	if strings.Contains(b.String(), "serve-chatd") {
		t.Error("help shows the hidden child mode")
	}
}

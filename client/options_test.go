package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSConfig(t *testing.T) {
	ca := writeCA(t)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		name     string
		file     string
		insecure bool
		wantErr  bool
		wantPool bool
	}{
		{"defaults", "", false, false, false},
		{"insecure", "", true, false, false},
		{"custom CA", ca, false, false, true},
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), false, true, false},
		{"not PEM", notPEM, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := TLSConfig(tc.file, tc.insecure)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if cfg.InsecureSkipVerify != tc.insecure || (cfg.RootCAs != nil) != tc.wantPool {
				t.Fatalf("cfg insecure=%v pool=%v", cfg.InsecureSkipVerify, cfg.RootCAs != nil)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Name: "a", MinBackoff: time.Second, MaxBackoff: time.Millisecond}.withDefaults()
	if len(o.Rooms) != 1 || o.Rooms[0] != "lobby" || o.MaxBackoff != time.Second || o.HistoryKeep != 500 ||
		o.HistoryTTL != 24*time.Hour || o.MaxAttempts != DefaultMaxAttempts || o.Clock == nil {
		t.Fatalf("defaults: %+v", o)
	}
	if n := (Options{MaxAttempts: -1}).withDefaults().MaxAttempts; n != -1 {
		t.Fatalf("negative MaxAttempts (never reconnect) became %d", n)
	}
}

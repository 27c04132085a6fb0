package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSelfSignedTempDirRemoved: the folder the self-signed mode makes for its key is removed when the
// manager stops; a --webhook-cert-dir given is the user's and stays.
func TestSelfSignedTempDirRemoved(t *testing.T) {
	f := &webhookFlags{selfSigned: true}
	if _, err := f.server(); err != nil {
		t.Fatal(err)
	}
	dir := f.tempDir
	if _, err := os.Stat(filepath.Join(dir, "tls.key")); err != nil {
		t.Fatalf("no key in the temporary folder: %v", err)
	}
	f.cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after cleanup (%v)", dir, err)
	}

	given := t.TempDir()
	f = &webhookFlags{selfSigned: true, certDir: given}
	if _, err := f.server(); err != nil {
		t.Fatal(err)
	}
	f.cleanup()
	if _, err := os.Stat(filepath.Join(given, "tls.key")); err != nil {
		t.Errorf("the given cert dir was emptied: %v", err)
	}
}

package secrets

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	old := GenerateKeySpec("k1")
	ring1, err := ParseKeyRing(old)
	if err != nil {
		t.Fatal(err)
	}
	ct := ring1.Seal([]byte("s3cret"), []byte("tenant:a"))
	if bytes.Contains(ct, []byte("s3cret")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	if KeyID(ct) != "k1" {
		t.Fatalf("KeyID = %q", KeyID(ct))
	}
	// A ring with a new primary still opens what the old key sealed, and seals with the new one.
	ring2, err := ParseKeyRing(GenerateKeySpec("k2") + "," + old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ring2.Open(ct, []byte("tenant:a"))
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if id := KeyID(ring2.Seal([]byte("x"), nil)); id != "k2" {
		t.Fatalf("new data sealed with %q, want k2", id)
	}
	// Another row's aad does not open it.
	if _, err := ring2.Open(ct, []byte("tenant:b")); err == nil {
		t.Fatal("opened with the wrong aad")
	}
	// Tampering is detected.
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := ring2.Open(bad, []byte("tenant:a")); err == nil {
		t.Fatal("opened a tampered ciphertext")
	}
	// A ring without the key says so.
	ring3, _ := ParseKeyRing(GenerateKeySpec("k3"))
	if _, err := ring3.Open(ct, []byte("tenant:a")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}

func TestParseKeyRingRejects(t *testing.T) {
	for _, spec := range []string{"", "nokey", "k1:notbase64!!", "k1:c2hvcnQ=", "bad id:" + GenerateKeySpec("x")[2:],
		GenerateKeySpec("a") + "," + GenerateKeySpec("a")} {
		if _, err := ParseKeyRing(spec); err == nil {
			t.Errorf("ParseKeyRing(%q) accepted", spec)
		}
	}
}

func TestOpenGarbage(t *testing.T) {
	ring, _ := ParseKeyRing(GenerateKeySpec("k1"))
	for _, ct := range [][]byte{nil, {1}, {2, 0}, {1, 5, 'k'}, {1, 2, 'k', '1', 0, 1}} {
		if _, err := ring.Open(ct, nil); err == nil {
			t.Errorf("Open(%v) succeeded", ct)
		}
	}
}

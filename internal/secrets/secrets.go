// Package secrets encrypts what Tenantry must keep but never show: workspace secrets, tenant and
// connection credentials. AES-256-GCM under a key ring; every ciphertext names the key that sealed
// it, so keys can rotate: new data is sealed with the primary key, old data still opens with the
// key it names until it is re-sealed.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// version is the first byte of every ciphertext, so the format itself can change later.
const version = 1

// KeyRing holds the encryption keys by id; the first is the primary, which seals.
type KeyRing struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// ErrUnknownKey means a ciphertext names a key the ring does not hold.
var ErrUnknownKey = errors.New("secrets: ciphertext sealed with a key that is not configured")

// ParseKeyRing reads "id:base64key,id2:base64key" (the first is the primary). Each key is 32
// bytes (AES-256); ids are 1–32 characters of [A-Za-z0-9_-].
func ParseKeyRing(spec string) (*KeyRing, error) {
	r := &KeyRing{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || !validID(id) {
			return nil, fmt.Errorf("key %d: want id:base64key with an id of 1-32 letters, digits, - or _", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: not base64: %w", id, err)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("key %q: %d bytes, want 32 (AES-256)", id, len(key))
		}
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("key %q: listed twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		r.aeads[id] = aead
		if r.primary == "" {
			r.primary = id
		}
	}
	if r.primary == "" {
		return nil, errors.New("no encryption key given")
	}
	return r, nil
}

// GenerateKeySpec returns a new one-key ring spec, for development setups.
func GenerateKeySpec(id string) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key)
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Seal encrypts plaintext with the primary key. aad binds the ciphertext to where it is stored
// (for example "tenant:<id>:credentials") so it cannot be copied into another row and opened.
// Layout: version | len(keyID) | keyID | nonce | sealed.
func (r *KeyRing) Seal(plaintext, aad []byte) []byte {
	aead := r.aeads[r.primary]
	out := make([]byte, 0, 2+len(r.primary)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, version, byte(len(r.primary)))
	out = append(out, r.primary...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts a ciphertext made by Seal with the same aad.
func (r *KeyRing) Open(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < 2 || ciphertext[0] != version {
		return nil, errors.New("secrets: not a ciphertext of a known version")
	}
	n := int(ciphertext[1])
	if len(ciphertext) < 2+n {
		return nil, errors.New("secrets: truncated ciphertext")
	}
	id := string(ciphertext[2 : 2+n])
	aead, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, id)
	}
	rest := ciphertext[2+n:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("secrets: truncated ciphertext")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, errors.New("secrets: ciphertext does not authenticate (wrong key or tampered)")
	}
	return plain, nil
}

// KeyID returns the id of the key that sealed ciphertext, so re-sealing jobs can find old data.
func KeyID(ciphertext []byte) string {
	if len(ciphertext) < 2 || len(ciphertext) < 2+int(ciphertext[1]) {
		return ""
	}
	return string(ciphertext[2 : 2+int(ciphertext[1])])
}

package auth

import (
	"testing"
	"time"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "wrong password!") || CheckPassword("", "x") {
		t.Fatal("password check wrong")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(time.Minute, 3, 5)
	th.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := th.Allowed("a@x", "1.1.1.1"); !ok {
			t.Fatalf("try %d refused", i)
		}
		th.Fail("a@x", "1.1.1.1")
	}
	ok, wait := th.Allowed("a@x", "1.1.1.1")
	if ok || wait != time.Minute {
		t.Fatalf("4th try: ok=%v wait=%v", ok, wait)
	}
	// Another account from the same address still may, until the address limit.
	if ok, _ := th.Allowed("b@x", "1.1.1.1"); !ok {
		t.Fatal("other account refused")
	}
	th.Fail("b@x", "1.1.1.1")
	th.Fail("b@x", "1.1.1.1")
	if ok, _ := th.Allowed("c@x", "1.1.1.1"); ok {
		t.Fatal("address limit not enforced")
	}
	// The window slides.
	now = now.Add(time.Minute)
	if ok, _ := th.Allowed("a@x", "1.1.1.1"); !ok {
		t.Fatal("still refused after the window")
	}
	th.Fail("a@x", "2.2.2.2")
	th.Succeed("a@x")
	if len(th.failures["e:a@x"]) != 0 {
		t.Fatal("success did not reset the account")
	}
}

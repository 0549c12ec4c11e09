package cpu

import "testing"

func TestSwitch(t *testing.T) {
	s := NewSwitch("test")
	if s.Load() != Best() || s.Name() != names[Best()] {
		t.Fatalf("new switch at %s, best is %s", s.Name(), names[Best()])
	}
	if got := s.Impls(); got[0] != names[Best()] || got[len(got)-1] != "generic" {
		t.Errorf("Impls() = %v", got)
	}
	if prev := s.SetGeneric(true); prev != (Best() == Generic) || s.Name() != "generic" {
		t.Errorf("SetGeneric(true): prev %v, now %s", prev, s.Name())
	}
	if prev := s.SetGeneric(false); !prev || s.Load() != Best() {
		t.Errorf("SetGeneric(false): prev %v, now %s", prev, s.Name())
	}
	for _, bad := range []string{"sse9", "AVX512"} {
		if _, err := s.Set(bad); err == nil {
			t.Errorf("Set(%q): no error", bad)
		}
	}
	if prev, err := s.Set("generic"); err != nil || prev != names[Best()] {
		t.Errorf("Set(generic) = %q, %v", prev, err)
	}
	if !HasAVX512 {
		if _, err := s.Set("avx512"); err == nil {
			t.Error("Set(avx512) without AVX-512: no error")
		}
	}
	if HasAVX512 && !HasAVX2 {
		t.Error("AVX-512 without AVX2")
	}
}

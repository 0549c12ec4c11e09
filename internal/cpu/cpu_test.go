package cpu

import "testing"

func TestSwitch(t *testing.T) {
	start := Impl()
	defer SetImpl(start)
	if _, err := SetImpl(""); err != nil || Level() != Best() || Impl() != names[Best()] {
		t.Fatalf("SetImpl(\"\"): at %s (%v), best is %s", Impl(), err, names[Best()])
	}
	if got := Impls(); got[0] != names[Best()] || got[len(got)-1] != "generic" {
		t.Errorf("Impls() = %v", got)
	}
	if prev := SetGeneric(true); prev != (Best() == Generic) || Impl() != "generic" || Level() != Generic {
		t.Errorf("SetGeneric(true): prev %v, now %s", prev, Impl())
	}
	if prev := SetGeneric(false); !prev || Level() != Best() {
		t.Errorf("SetGeneric(false): prev %v, now %s", prev, Impl())
	}
	for _, bad := range []string{"sse9", "AVX512"} {
		if _, err := SetImpl(bad); err == nil {
			t.Errorf("SetImpl(%q): no error", bad)
		}
	}
	if prev, err := SetImpl("generic"); err != nil || prev != names[Best()] {
		t.Errorf("SetImpl(generic) = %q, %v", prev, err)
	}
	if !HasAVX512 {
		if _, err := SetImpl("avx512"); err == nil {
			t.Error("SetImpl(avx512) without AVX-512: no error")
		}
	}
	if HasAVX512 && !HasAVX2 {
		t.Error("AVX-512 without AVX2")
	}
	t.Logf("implementations here: %v", Impls())
}

func TestBF16Detection(t *testing.T) {
	start := Impl()
	defer SetImpl(start)
	if HasAVX512BF16 && !HasAVX512 {
		t.Error("AVX512_BF16 without AVX-512F")
	}
	SetGeneric(true)
	if HasBF16() {
		t.Error("HasBF16 at the generic level")
	}
	SetGeneric(false)
	if HasBF16() != (HasAVX512BF16 && Best() == AVX512) {
		t.Errorf("HasBF16() = %v at %s with HasAVX512BF16 = %v", HasBF16(), Impl(), HasAVX512BF16)
	}
	t.Logf("AVX512_BF16: %v", HasAVX512BF16)
}

package guardmem

import "testing"

func TestFloats(t *testing.T) {
	defer Release()
	for _, front := range []bool{false, true} {
		x := Floats(3, front)
		x[0], x[2] = 1, 1 // both ends are accessible
		if len(x) != 3 {
			t.Fatalf("len %d", len(x))
		}
	}
	if Floats(0, false) != nil {
		t.Error("Floats(0) is not nil")
	}
}

package grformer

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
)

// TestNonFiniteWeights: one NaN or Inf in a weight is refused at load,
// naming the file and the key (issue 12, item 7); before, it gave an
// all-black image and no error.
func TestNonFiniteWeights(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		sd, err := checkpoint.Load("testdata/golden/tiny_x2/weights.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		sd["conv_first.weight"].F32[3] = v
		_, err = FromStateDict(sd)
		var nf *checkpoint.NonFiniteError
		if !errors.As(err, &nf) || nf.Key != "conv_first.weight" || nf.Index != 3 {
			t.Fatalf("%v: error %v", v, err)
		}
		path := filepath.Join(t.TempDir(), "nan.safetensors")
		if err := checkpoint.WriteFile(path, sd); err != nil {
			t.Fatal(err)
		}
		_, err = Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), `tensor "conv_first.weight" holds`) {
			t.Errorf("%v: Load error %v", v, err)
		}
	}
	// The shipped weights are finite.
	if _, err := LoadDefault(2); err != nil {
		t.Error(err)
	}
}

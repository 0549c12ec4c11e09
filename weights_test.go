package grformer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/metrics"
	"github.com/grformer/grformer/resize"
)

// TestShippedWeights loads the embedded x2 weights and checks on a Set5
// image that they beat MATLAB-exact bicubic by a clear margin (they score
// 36.39 dB on Set5 against bicubic's 33.67), so that broken or swapped
// weights cannot ship.
func TestShippedWeights(t *testing.T) {
	m, err := LoadDefault(2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Scale() != 2 || m.Config().NumParams() != 780936 {
		t.Fatalf("shipped x2: scale %d, %d params", m.Scale(), m.Config().NumParams())
	}
	if _, err := LoadDefault(4); err == nil {
		t.Error("LoadDefault(4): no error, but no x4 weights ship")
	}
	set := "../shared/datasets/benchmark/Set5"
	hrPath := filepath.Join(set, "HR", "butterfly.png")
	if _, err := os.Stat(hrPath); err != nil {
		t.Skipf("%s not found: ../shared is absent", hrPath)
	}
	hr, err := eval.ReadImage(hrPath)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := eval.MakeLR(hr, 2)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := m.Upscale(context.Background(), lr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bic, err := resize.Upscale(lr, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := metrics.ModCrop(hr, 2)
	if err != nil {
		t.Fatal(err)
	}
	model, err := metrics.Compare(ref, sr, 2)
	if err != nil {
		t.Fatal(err)
	}
	base, err := metrics.Compare(ref, bic, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("butterfly x2: shipped weights %.2f dB, bicubic %.2f dB", model.PSNR, base.PSNR)
	if model.PSNR < base.PSNR+0.5 {
		t.Errorf("shipped weights %.2f dB do not beat bicubic %.2f dB by 0.5 dB", model.PSNR, base.PSNR)
	}
}

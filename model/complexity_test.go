package model

import (
	"math"
	"testing"
)

// TestCostsReference checks the totals against the figures computed with
// the reference code and an instrumented forward pass (issue 7).
func TestCostsReference(t *testing.T) {
	for _, tc := range []struct {
		scale, w, h                 int
		padded, unpadded, noAttnPad float64 // GMAC
	}{
		{4, 320, 180, 91.99, 86.25, 46.70},
		{2, 640, 360, 363.15, 340.46, 0},
		{3, 427, 240, 170.41, 152.27, 0},
	} {
		cfg := Light(tc.scale)
		var pad, unpad, noAttn float64
		params := 0
		for _, k := range cfg.Costs(tc.h, tc.w) {
			pad += float64(k.MACsPadded) / 1e9
			unpad += float64(k.MACsUnpadded) / 1e9
			if !k.AttnProduct {
				noAttn += float64(k.MACsPadded) / 1e9
			}
			params += k.Params
		}
		if params != cfg.NumParams() {
			t.Errorf("x%d: components sum to %d params, NumParams %d", tc.scale, params, cfg.NumParams())
		}
		check := func(what string, got, want float64) {
			if want != 0 && math.Abs(got-want) > 0.01 {
				t.Errorf("x%d %dx%d %s: %.3f GMAC, reference %.2f", tc.scale, tc.w, tc.h, what, got, want)
			}
		}
		check("padded", pad, tc.padded)
		check("unpadded", unpad, tc.unpadded)
		check("padded without attention products", noAttn, tc.noAttnPad)
		if got := float64(cfg.TotalMACs(tc.h, tc.w, true)) / 1e9; math.Abs(got-pad) > 1e-9 {
			t.Errorf("TotalMACs %.3f != sum %.3f", got, pad)
		}
	}
}

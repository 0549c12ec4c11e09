package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func newRandomModel(tb testing.TB, cfg Config) *Model {
	tb.Helper()
	sd, err := InitStateDict(cfg, 1)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := New(cfg, sd)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestInitStateDictLoads(t *testing.T) {
	for s := 2; s <= 4; s++ {
		cfg := Light(s)
		sd, err := InitStateDict(cfg, 7)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range sd {
			n += len(v.F32)
		}
		if n != cfg.NumParams() {
			t.Errorf("x%d: %d parameters initialised, NumParams says %d", s, n, cfg.NumParams())
		}
		got, err := ConfigFrom(sd)
		if err != nil {
			t.Fatal(err)
		}
		if got.Scale != s || got.EmbedDim != 60 || len(got.Depths) != 4 {
			t.Errorf("x%d: derived config %+v", s, got)
		}
		if _, err := New(got, sd); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkForward runs the light models end to end on random weights.
func BenchmarkForward(b *testing.B) {
	for _, tc := range []struct{ scale, h, w int }{{4, 64, 64}, {4, 180, 320}, {2, 360, 640}} {
		b.Run(fmt.Sprintf("x%d_%dx%d", tc.scale, tc.w, tc.h), func(b *testing.B) {
			if testing.Short() && tc.h > 64 {
				b.Skip("large size; run without -short")
			}
			m := newRandomModel(b, Light(tc.scale))
			r := rand.New(rand.NewPCG(1, 1))
			x := make([]float32, 3*tc.h*tc.w)
			for i := range x {
				x[i] = r.Float32()
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.Forward(x, 1, tc.h, tc.w, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

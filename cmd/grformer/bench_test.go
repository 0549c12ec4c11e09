package main

import (
	"strings"
	"testing"
)

func TestBench(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-scale", "2", "-size", "16x16", "-runs", "1"}, []string{"x2, LR 16x16 (padded 32x32)", "GFLOP/s effective", "peak RSS"}},
		{[]string{"-train", "-scale", "2", "-batch", "1", "-patch", "16", "-runs", "1"}, []string{"train step x2, batch 1 of 16x16", "per step", "peak RSS"}},
		{[]string{"-generic", "-scale", "3", "-size", "8x8", "-runs", "1"}, []string{"kernels generic"}},
	} {
		code, stdout, stderr := runCmd(t, append([]string{"bench"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("bench %v: exit %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("bench %v: output %q lacks %q", tc.args, stdout, w)
			}
		}
	}
	for _, bad := range [][]string{{"-size", "0x5"}, {"-runs", "0"}, {"-train", "-batch", "0"}} {
		if code, _, _ := runCmd(t, append([]string{"bench"}, bad...)...); code == 0 {
			t.Errorf("bench %v: exit 0", bad)
		}
	}
}

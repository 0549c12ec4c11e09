package model

import (
	"reflect"
	"runtime"
	"testing"
)

// floatsOf sums the lengths of every []float32 field of the struct v
// points to, and of the structs its pointer-slice fields point to.
func floatsOf(v reflect.Value) int {
	v = v.Elem()
	n := 0
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Slice {
			continue
		}
		switch f.Type().Elem().Kind() {
		case reflect.Float32:
			n += f.Len()
		case reflect.Pointer:
			for j := range f.Len() {
				n += floatsOf(f.Index(j))
			}
		}
	}
	return n
}

// TestWorkspaceBytes: WorkspaceBytes is the size of what an inference
// forward pass allocates as its workspace, every buffer counted (by
// reflection, so that a buffer added to the workspace but not to its
// layout fails here), and Forward works in that workspace alone.
func TestWorkspaceBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		hp, wp int
	}{
		{"light_x4", Light(4), 64, 96},
		{"light_x2_qkv", func() Config { c := Light(2); c.AttnProj = ProjQKV; return c }(), 32, 32},
		{"small_x4_table", func() Config { c := smallCfg(ProjGRL, BiasTable); c.Scale = 4; return c }(), 8, 16},
	} {
		for _, th := range []int{1, 3} {
			ws := newWorkspace(tc.cfg, 1, tc.hp, tc.wp, th, false)
			got := 4 * int64(floatsOf(reflect.ValueOf(ws)))
			if want := WorkspaceBytes(tc.cfg, tc.hp, tc.wp, th); got != want {
				t.Errorf("%s %dx%d threads=%d: the workspace holds %d bytes, WorkspaceBytes says %d", tc.name, tc.hp, tc.wp, th, got, want)
			}
		}
	}
	// The upsampler's output ([P, 3*s*s], larger than the FFN's [P, hidden]
	// in this configuration) fits the workspace: the forward pass allocates
	// nothing beyond it but a few closures of the parallel loops.
	cfg := smallCfg(ProjGRL, BiasESRPB)
	cfg.Scale = 4
	sd, err := InitStateDict(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	h, w := 16, 20
	hp, wp := cfg.PaddedSize(h, w)
	ws := newWorkspace(cfg, 1, hp, wp, 1, false)
	x, out := randInput(1, 3*h*w), make([]float32, 3*h*w*16)
	run := func() {
		if err := m.forward(cfg, out, x, 1, h, w, ws, 1, m.geometry, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	run() // fills the geometry cache
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	if extra := after.TotalAlloc - before.TotalAlloc; extra > 16<<10 {
		t.Errorf("the forward pass allocated %d bytes", extra)
	}
}

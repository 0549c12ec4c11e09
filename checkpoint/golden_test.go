package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenMeta is the part of a golden case's meta.json these tests use.
type goldenMeta struct {
	Kwargs struct {
		ImgSize  int     `json:"img_size"`
		EmbedDim int     `json:"embed_dim"`
		Depths   []int   `json:"depths"`
		NumHeads []int   `json:"num_heads"`
		MLPRatio float64 `json:"mlp_ratio"`
		Upscale  int     `json:"upscale"`
	} `json:"network_g"`
	Entries int `json:"num_state_dict_entries"`
	Blocks  []struct {
		Window  []int `json:"window_size"`
		HasMask bool  `json:"has_attn_mask_buffer"`
	} `json:"blocks"`
}

func readMeta(t *testing.T, dir string) goldenMeta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m goldenMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGoldenFormatsAgree loads each golden checkpoint in both formats and
// checks that they hold the same tensors, bit for bit, with the shapes and
// dtypes the spec and meta.json give.
func TestGoldenFormatsAgree(t *testing.T) {
	type tc struct {
		name      string
		pth, st   string
		shared    bool
		full      bool // carries relative_position_index and attn_mask
		firstConv []int
	}
	cases := []tc{
		{name: "tiny_x2", pth: "weights.pth", st: "weights.safetensors", full: true, firstConv: []int{16, 3, 3, 3}},
		{name: "tiny_x3", pth: "weights.pth", st: "weights.safetensors", full: true, firstConv: []int{12, 3, 3, 3}},
		{name: "tiny_x4", pth: "weights.pth", st: "weights.safetensors", full: true, firstConv: []int{8, 3, 3, 3}},
		{name: "dev_x2", pth: "weights_slim.pth", st: "weights_slim.safetensors", shared: true, firstConv: []int{60, 3, 3, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := moduleGolden(c.name)
			if c.shared {
				dir = sharedGolden(t, c.name)
			}
			meta := readMeta(t, dir)
			pth, pinfo := mustLoad(t, filepath.Join(dir, c.pth))
			st, sinfo := mustLoad(t, filepath.Join(dir, c.st))
			if d := diffSD(pth, st); d != "" {
				t.Fatalf(".pth and .safetensors differ: %s", d)
			}
			if pinfo.Format != FormatPTH || pinfo.Source != SourceParams || !slices.Equal(pinfo.TopKeys, []string{"params"}) {
				t.Errorf(".pth info = %+v, want format pth, source params, top keys [params]", pinfo)
			}
			if sinfo.Format != FormatSafetensors || sinfo.Source != SourceStateDict || sinfo.Metadata["format"] != "pt" {
				t.Errorf(".safetensors info = format %q source %q metadata %v", sinfo.Format, sinfo.Source, sinfo.Metadata)
			}
			if len(pinfo.Keys) != len(pth) || pinfo.Keys[0] != "conv_first.weight" {
				t.Errorf(".pth key order starts %v, want conv_first.weight first (state-dict order)", pinfo.Keys[:min(3, len(pinfo.Keys))])
			}
			if c.full && len(pth) != meta.Entries {
				t.Errorf("%d entries, meta.json says %d", len(pth), meta.Entries)
			}
			checkGoldenShapes(t, pth, meta, c.firstConv, c.full)
		})
	}
}

// checkGoldenShapes checks shapes from the spec's key table against the
// case's configuration, and the integer buffers' values.
func checkGoldenShapes(t *testing.T, sd StateDict, meta goldenMeta, firstConv []int, full bool) {
	t.Helper()
	k := meta.Kwargs
	s, e := k.Upscale, k.EmbedDim
	hidden := int(float64(e) * k.MLPRatio)
	want := map[string][]int{
		"conv_first.weight":                                    firstConv,
		"conv_first.bias":                                      {e},
		"norm.weight":                                          {e},
		"conv_after_body.weight":                               {e, e, 3, 3},
		"upsample.0.weight":                                    {3 * s * s, e, 3, 3},
		"upsample.0.bias":                                      {3 * s * s},
		"layers.0.blocks.0.attn.logit_scale":                   {k.NumHeads[0], 1, 1},
		"layers.0.blocks.0.attn.ESRPB_MLP.0.weight":            {128, 2},
		"layers.0.blocks.0.attn.ESRPB_MLP.2.weight":            {k.NumHeads[0], 128},
		"layers.0.blocks.0.attn.q1.weight":                     {e / 2, e / 2},
		"layers.0.blocks.0.mlp.fc1.weight":                     {hidden, e},
		"layers.0.blocks.0.mlp.fc2.weight":                     {e, hidden},
		"layers.0.blocks.0.mlp.dwconv.depthwise_conv.0.weight": {hidden, 1, 3, 3},
		"layers.0.conv.weight":                                 {e, e, 3, 3},
	}
	for key, shape := range want {
		tt, ok := sd[key]
		if !ok {
			t.Errorf("missing %s", key)
			continue
		}
		if !slices.Equal(tt.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", key, tt.Shape, shape)
		}
		if tt.DType != F32 || len(tt.F32) != tt.Numel() || tt.I64 != nil {
			t.Errorf("%s: dtype %s, %d F32 values, want F32 with %d", key, tt.DType, len(tt.F32), tt.Numel())
		}
	}
	if !full {
		return
	}
	nBlocks := 0
	for g, depth := range k.Depths {
		for b := range depth {
			blk := meta.Blocks[nBlocks]
			nBlocks++
			wh, ww := blk.Window[0], blk.Window[1]
			n := wh * ww
			pre := fmt.Sprintf("layers.%d.blocks.%d.", g, b)
			idx := sd[pre+"attn.relative_position_index"]
			if idx == nil || idx.DType != I64 || !slices.Equal(idx.Shape, []int{n, n}) || len(idx.I64) != n*n {
				t.Fatalf("%sattn.relative_position_index: got %+v, want I64 [%d %d]", pre, idx, n, n)
			}
			tableLen := int64((2*wh - 1) * (2*ww - 1))
			center := int64((wh-1)*(2*ww-1) + ww - 1)
			for i, v := range idx.I64 {
				if v < 0 || v >= tableLen {
					t.Fatalf("%srelative_position_index[%d] = %d outside [0, %d)", pre, i, v, tableLen)
				}
				if i%(n+1) == 0 && v != center {
					t.Fatalf("%srelative_position_index diagonal = %d, want %d", pre, v, center)
				}
			}
			table := sd[pre+"attn.relative_position_bias_table"]
			if table == nil || !slices.Equal(table.Shape, []int{1, 2*wh - 1, 2*ww - 1, 2}) {
				t.Errorf("%sattn.relative_position_bias_table: %+v", pre, table)
			}
			mask, hasMask := sd[pre+"attn_mask"]
			if hasMask != blk.HasMask {
				t.Errorf("%sattn_mask present = %v, meta.json says %v", pre, hasMask, blk.HasMask)
			}
			if hasMask {
				nW := (k.ImgSize / wh) * (k.ImgSize / ww)
				if !slices.Equal(mask.Shape, []int{nW, n, n}) || mask.DType != F32 {
					t.Errorf("%sattn_mask: shape %v dtype %s, want F32 [%d %d %d]", pre, mask.Shape, mask.DType, nW, n, n)
				}
				for _, v := range mask.F32 {
					if v != 0 && v != -1e9 {
						t.Fatalf("%sattn_mask holds %v, want only 0 and -1e9 (the reference's mask values)", pre, v)
					}
				}
			}
		}
	}
}

// TestSharedSlimCheckpoints loads every slim .pth of the shared golden tree
// (no derivable buffers).
func TestSharedSlimCheckpoints(t *testing.T) {
	for _, name := range []string{"dev_x2", "dev_x3", "dev_x4_a", "dev_x4_b", "grad_light_x4"} {
		t.Run(name, func(t *testing.T) {
			dir := sharedGolden(t, name)
			sd, info := mustLoad(t, filepath.Join(dir, "weights_slim.pth"))
			if info.Source != SourceParams {
				t.Errorf("source %q, want params", info.Source)
			}
			if _, ok := sd["layers.3.blocks.5.attn.logit_scale"]; !ok {
				t.Errorf("light model without layers.3.blocks.5.attn.logit_scale")
			}
			for _, k := range sd.Keys() {
				if err := sd[k].Validate(); err != nil {
					t.Fatalf("%s: %v", k, err)
				}
			}
		})
	}
}

// TestGoldenF64Safetensors reads a float64 safetensors file: F64 keeps the
// exact values, F32 the rounded ones.
func TestGoldenF64Safetensors(t *testing.T) {
	dir := sharedGolden(t, "grad_tiny_x2")
	sd, _ := mustLoad(t, filepath.Join(dir, "grads_f64.safetensors"))
	w := sd["conv_first.weight"]
	if w == nil || w.DType != F64 || len(w.F64) != 16*27 || len(w.F32) != 16*27 {
		t.Fatalf("conv_first.weight = %+v, want F64 with F64 and F32 values", w)
	}
	nonzero := false
	for i, v := range w.F64 {
		if float32(v) != w.F32[i] {
			t.Fatalf("F32[%d] = %v, want float32(%v)", i, w.F32[i], v)
		}
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("all gradients zero: decoding is wrong")
	}
}

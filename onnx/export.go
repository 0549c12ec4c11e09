package onnx

import (
	"fmt"
	"io"
	"math"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/atomicfile"
	"github.com/grformer/grformer/model"
	pb "github.com/grformer/grformer/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Opset is the version of the default ONNX operator set the graphs use.
const Opset = 17

// irVersion is the ONNX IR version that goes with opset 17 (ONNX 1.12).
const irVersion = 8

// Input and output names of the exported graph.
const (
	InputName  = "input"
	OutputName = "output"
)

// maskValue is what the shift mask adds between regions (spec: -1e9).
const maskValue = -1e9

// Marshal returns the network cfg with the weights sd as a serialized ONNX
// model (opset 17): input "input" float32 [N, 3, H, W], output "output"
// float32 [N, 3, H*s, W*s], N, H and W dynamic. sd is checked the way
// model.New checks it (every parameter with its shape, buffers optional and
// consistent, no unknown key); an error names the problem.
func Marshal(cfg model.Config, sd checkpoint.StateDict) ([]byte, error) {
	m, err := build(cfg, sd)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return out, nil
}

// Export writes Marshal's model to w.
func Export(w io.Writer, cfg model.Config, sd checkpoint.StateDict) error {
	data, err := Marshal(cfg, sd)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// WriteFile writes Marshal's model to path, atomically: on any error path
// is left as it was.
func WriteFile(path string, cfg model.Config, sd checkpoint.StateDict) error {
	data, err := Marshal(cfg, sd)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	return nil
}

// build returns the ONNX model of cfg with the weights sd (see Marshal).
func build(cfg model.Config, sd checkpoint.StateDict) (*pb.ModelProto, error) {
	if _, err := model.New(cfg, sd); err != nil {
		return nil, err
	}
	e := &exporter{cfg: cfg, sd: sd, b: newBuilder("grformer"),
		masks: map[[4]int]string{}, tables: map[string]string{}, indexes: map[[2]int]string{},
		gridWidths: map[int]string{}}
	e.network()
	s := cfg.Scale
	e.b.g.Input = []*pb.ValueInfoProto{valueInfo(InputName, "N", cfg.InChans, "H", "W")}
	e.b.g.Output = []*pb.ValueInfoProto{valueInfo(OutputName, "N", cfg.InChans, fmt.Sprintf("H*%d", s), fmt.Sprintf("W*%d", s))}
	e.b.g.DocString = proto.String(fmt.Sprintf("GRFormer x%d: embed %d, depths %v, heads %v, window %v, mlp ratio %g, projection %s, position bias %s",
		s, cfg.EmbedDim, cfg.Depths, cfg.NumHeads, cfg.Window, cfg.MLPRatio, cfg.Proj(), cfg.Bias()))
	meta := func(k, v string) *pb.StringStringEntryProto {
		return &pb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	return &pb.ModelProto{
		IrVersion:    proto.Int64(irVersion),
		OpsetImport:  []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName: proto.String("grformer"),
		DocString:    proto.String("GRFormer image super-resolution (Li et al., ACM MM 2024): RGB in [0, 1], NCHW, not clamped"),
		Graph:        e.b.g,
		MetadataProps: []*pb.StringStringEntryProto{
			meta("scale", fmt.Sprint(s)),
			meta("window", fmt.Sprintf("%dx%d", cfg.Window[0], cfg.Window[1])),
		},
	}, nil
}

// exporter writes one network into a builder.
type exporter struct {
	cfg model.Config
	sd  checkpoint.StateDict
	b   *builder

	n, h, w    string // batch, height, width as 1-D int64 [1]
	hp, wp     string // padded height and width, 1-D
	tokShape   string // [N, Hp, Wp, C]
	masks      map[[4]int]string
	tables     map[string]string // position-bias MLP input tables by kind and window
	indexes    map[[2]int]string // relative position index by window
	gridWidths map[int]string    // Wp/ww by ww
}

// weight returns the weights of key; model.New has checked that they exist with
// the right shape.
func (e *exporter) weight(key string) []float32 { return e.sd[key].F32 }

// network is the forward pass (spec, "Forward pass").
func (e *exporter) network() {
	b, cfg := e.b, e.cfg
	C, s := cfg.EmbedDim, cfg.Scale

	// Dynamic sizes.
	shape := b.node("Shape", []string{InputName})
	dim := func(i int64) string { return b.node("Slice", []string{shape, b.ints(i), b.ints(i + 1)}) }
	e.n, e.h, e.w = dim(0), dim(2), dim(3)
	P := int64(cfg.PadMultiple())
	padded := func(v string) string {
		return b.mul(b.div(b.add(v, b.ints(P-1)), b.ints(P)), b.ints(P))
	}
	e.hp, e.wp = padded(e.h), padded(e.w)
	e.tokShape = b.concat(0, e.n, e.hp, e.wp, b.ints(int64(C)))

	// Step 1: reflection padding (bottom, right) as gathers, with the
	// reflection repeated where the pad is not smaller than the side, as
	// model does.
	x := b.node("Gather", []string{InputName, e.reflectIndex(e.h, e.hp)}, attrInt("axis", 2))
	x = b.node("Gather", []string{x, e.reflectIndex(e.w, e.wp)}, attrInt("axis", 3))
	// Step 2: (x - mean) * img_range.
	mean := b.f32("mean", cfg.Mean[:], 1, cfg.InChans, 1, 1)
	x = b.sub(x, mean)
	if cfg.ImgRange != 1 {
		x = b.mul(x, b.constF(cfg.ImgRange))
	}
	// Step 3: f0 = conv_first(x), NCHW.
	f0 := e.conv(x, "conv_first", 1)

	// Step 4: deep features as tokens [N, Hp, Wp, C].
	t := b.transpose(f0, 0, 2, 3, 1)
	for g, depth := range cfg.Depths {
		for i := range depth {
			t = e.block(t, g, i)
		}
		tail := e.conv(b.transpose(t, 0, 3, 1, 2), fmt.Sprintf("layers.%d.conv", g), 1)
		t = b.add(t, b.transpose(tail, 0, 2, 3, 1))
	}
	t = e.layerNorm(t, "norm")

	// Step 5: y = conv_after_body(features) + f0.
	y := b.add(e.conv(b.transpose(t, 0, 3, 1, 2), "conv_after_body", 1), f0)
	// Step 6: upsample conv, pixel shuffle (DepthToSpace CRD is
	// out[c, h*s+i, w*s+j] = in[c*s*s + i*s + j, h, w]).
	u := b.node("DepthToSpace", []string{e.conv(y, "upsample.0", 1)},
		attrInt("blocksize", int64(s)), attrString("mode", "CRD"))
	// Step 7: undo the normalisation, crop to [H*s, W*s].
	if cfg.ImgRange != 1 {
		u = b.div(u, b.constF(cfg.ImgRange))
	}
	u = b.add(u, mean)
	ends := b.concat(0, b.mul(e.h, b.ints(int64(s))), b.mul(e.w, b.ints(int64(s))))
	crop := b.node("Slice", []string{u, b.ints(0, 0), ends, b.ints(2, 3)})
	b.g.Node = append(b.g.Node, &pb.NodeProto{Name: proto.String("output"), OpType: proto.String("Identity"),
		Input: []string{crop}, Output: []string{OutputName}})
}

// reflectIndex returns, for the padded side np (1-D), the source index of
// every position 0..np-1 along a side of length n (1-D): numpy's 'reflect'
// repeated, kernels.ReflectIndex: with p = max(2(n-1), 1), j = i mod p,
// index = j < n ? j : p - j.
func (e *exporter) reflectIndex(n, np string) string {
	b := e.b
	i := b.node("Range", []string{b.scalarI(0), b.node("Squeeze", []string{np, b.ints(0)}), b.scalarI(1)})
	p := b.node("Max", []string{b.mul(b.sub(n, b.ints(1)), b.ints(2)), b.ints(1)})
	j := b.node("Mod", []string{i, p})
	return b.where(b.geq(j, n), b.sub(p, j), j)
}

// conv is a 3x3 convolution (zero padding 1, bias) on NCHW x with the
// weights key.weight, key.bias.
func (e *exporter) conv(x, key string, groups int) string {
	t := e.sd[key+".weight"]
	w := e.b.f32(key+".weight", t.F32, t.Shape...)
	bias := e.b.f32(key+".bias", e.weight(key+".bias"), t.Shape[0])
	return e.b.node("Conv", []string{x, w, bias},
		attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1), attrInt("group", int64(groups)))
}

// layerNorm is LayerNorm over the last axis with key.weight, key.bias.
func (e *exporter) layerNorm(x, key string) string {
	C := e.cfg.EmbedDim
	return e.b.node("LayerNormalization", []string{x,
		e.b.f32(key+".weight", e.weight(key+".weight"), C),
		e.b.f32(key+".bias", e.weight(key+".bias"), C)},
		attrInt("axis", -1), attrFloat("epsilon", model.LayerNormEps))
}

// linear is x W^T + b for the Linear layer key ([out, in] weights), on the
// last axis of x.
func (e *exporter) linear(x, key string) string {
	t := e.sd[key+".weight"]
	out, in := t.Shape[0], t.Shape[1]
	w := e.b.f32(key+".weight^T", transpose(t.F32, out, in), in, out)
	y := e.b.node("MatMul", []string{x, w})
	return e.b.add(y, e.b.f32(key+".bias", e.weight(key+".bias"), out))
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(a []float32, rows, cols int) []float32 {
	t := make([]float32, len(a))
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = a[r*cols+c]
		}
	}
	return t
}

// gelu is the exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)), in the form ONNX
// Runtime fuses into one Gelu kernel.
func (e *exporter) gelu(x string) string {
	b := e.b
	erf := b.node("Erf", []string{b.div(x, b.constF(float32(math.Sqrt2)))})
	return b.mul(b.mul(x, b.add(erf, b.constF(1))), b.constF(0.5))
}

// gridWidth is Wp / ww (1-D), the windows per row.
func (e *exporter) gridWidth(ww int) string {
	if v, ok := e.gridWidths[ww]; ok {
		return v
	}
	v := e.b.div(e.wp, e.b.ints(int64(ww)))
	e.gridWidths[ww] = v
	return v
}

// partition splits tokens [N, Hp, Wp, c] into windows [N*nW, wh*ww, c],
// windows row-major over the grid, tokens row-major inside.
func (e *exporter) partition(x string, wh, ww, c int) string {
	b := e.b
	shape := b.concat(0, b.ints(-1, int64(wh)), e.gridWidth(ww), b.ints(int64(ww), int64(c)))
	x = b.transpose(b.reshape(x, shape), 0, 2, 1, 3, 4)
	return b.reshape(x, b.ints(-1, int64(wh*ww), int64(c)))
}

// reverse is partition's inverse: windows [N*nW, n, C] to [N, Hp, Wp, C].
func (e *exporter) reverse(x string, wh, ww int) string {
	b := e.b
	shape := b.concat(0, b.ints(-1), e.gridWidth(ww), b.ints(int64(wh), int64(ww), int64(e.cfg.EmbedDim)))
	x = b.transpose(b.reshape(x, shape), 0, 2, 1, 3, 4)
	return b.reshape(x, e.tokShape)
}

// roll is torch.roll of [N, Hp, Wp, C] by (dh, dw) along (H, W), as slices:
// out[h] = x[(h - dh) mod Hp]. |dh| < Hp and |dw| < Wp.
func (e *exporter) roll(x string, dh, dw int) string {
	return e.roll1(e.roll1(x, 1, dh), 2, dw)
}

func (e *exporter) roll1(x string, axis int64, d int) string {
	if d == 0 {
		return x
	}
	b, k := e.b, int64(-d) // the output starts at input index -d
	return b.concat(axis, b.slice(x, axis, k, math.MaxInt64), b.slice(x, axis, 0, k))
}

// block is block i of group g on tokens t [N, Hp, Wp, C] (spec, "Block i of
// a group"): t + norm1(GRSA(windows(roll(t)))) rolled back, then
// t + norm2(FFN(t)).
func (e *exporter) block(t string, g, i int) string {
	b, cfg := e.b, e.cfg
	C, hid := cfg.EmbedDim, cfg.Hidden()
	p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
	wh, ww, sh, sw := cfg.BlockWindow(i)
	shifted := sh != 0 || sw != 0

	x := t
	if shifted {
		x = e.roll(x, -sh, -sw)
	}
	a := e.attention(e.partition(x, wh, ww, C), p, g, wh, ww, sh, sw)
	a = e.reverse(e.layerNorm(a, p+"norm1"), wh, ww)
	if shifted {
		a = e.roll(a, sh, sw)
	}
	t = b.add(t, a)

	// ConvFFN: u = GELU(fc1(t)); u += dw2(GELU(dw1(u))); t += norm2(fc2(u)).
	u := b.transpose(e.gelu(e.linear(t, p+"mlp.fc1")), 0, 3, 1, 2)
	d := e.conv(u, p+"mlp.dwconv.depthwise_conv.0", hid)
	d = e.conv(e.gelu(d), p+"mlp.dwconv.depthwise_conv.2", hid)
	u = b.transpose(b.add(u, d), 0, 2, 3, 1)
	return b.add(t, e.layerNorm(e.linear(u, p+"mlp.fc2"), p+"norm2"))
}

// attention is GRSA (spec, "GRSA") on windows x [B, n, C].
func (e *exporter) attention(x, p string, g, wh, ww, sh, sw int) string {
	b, cfg := e.b, e.cfg
	C, half, heads := cfg.EmbedDim, cfg.EmbedDim/2, cfg.NumHeads[g]
	d, n := C/heads, wh*ww
	p += "attn."

	// q, k, v side by side: [B, n, 3C].
	var qkv string
	if cfg.Proj() == model.ProjQKV {
		qkv = e.linear(x, p+"qkv")
	} else {
		// GRL: q = concat(x0 + q1(x0), x1 + q2(x1)), same for k, v: the six
		// Linear(C/2, C/2) as one block-diagonal [C, 3C] product, then the
		// shortcut added to each of q, k, v.
		w := make([]float32, C*3*C)
		bias := make([]float32, 3*C)
		for j, l := range []string{"q", "k", "v"} {
			for h, sub := range []string{"1", "2"} {
				lw, lb := e.weight(p+l+sub+".weight"), e.weight(p+l+sub+".bias")
				off := h * half
				for r := range half { // input channel off+r
					for c := range half { // output channel j*C+off+c
						w[(off+r)*3*C+j*C+off+c] = lw[c*half+r]
					}
				}
				copy(bias[j*C+off:], lb)
			}
		}
		qkv = b.add(b.node("MatMul", []string{x, b.f32(p+"grl_qkv.weight", w, C, 3*C)}), b.f32(p+"grl_qkv.bias", bias, 3*C))
		qkv = b.add(b.reshape(qkv, b.ints(0, 0, 3, int64(C))), b.unsqueeze(x, 2))
	}
	// Heads: channel block [hd*d, (hd+1)*d) of q (then k, v) is head hd.
	qkv = b.transpose(b.reshape(qkv, b.ints(0, 0, int64(3*heads), int64(d))), 0, 2, 1, 3) // [B, 3h, n, d]
	s := b.nodeN("Split", []string{qkv, b.ints(int64(heads), int64(heads), int64(heads))}, 3, attrInt("axis", 1))
	q, k, v := s[0], s[1], s[2]

	// Cosine attention: x / max(||x||, 1e-12) over the head dim, times
	// the logit scale exp(min(s, ln 100)) per head (a constant, computed as
	// model computes it) folded into q's factor: q * (scale / max(||q||,
	// eps)), so that no pass over the [B, h, n, n] logits is spent on it.
	ls := e.weight(p + "logit_scale")
	scale := make([]float32, heads)
	for h, v := range ls {
		scale[h] = float32(math.Exp(float64(min(v, float32(math.Log(100))))))
	}
	normalize := func(x, factor string) string {
		nrm := b.node("ReduceL2", []string{x}, attrInts("axes", -1), attrInt("keepdims", 1))
		return b.mul(x, b.div(factor, b.node("Max", []string{nrm, b.constF(1e-12)})))
	}
	q = normalize(q, b.f32(p+"logit_scale_exp", scale, heads, 1, 1))
	k = normalize(k, b.constF(1))
	att := b.node("MatMul", []string{q, b.transpose(k, 0, 1, 3, 2)}) // [B, h, n, n]
	if bias := e.positionBias(p, heads, wh, ww); bias != "" {
		att = b.add(att, bias)
	}
	if sh != 0 || sw != 0 {
		// [N*nW, h, n, n] as [N, nW, h, n, n] + mask [nW, 1, n, n].
		att = b.reshape(att, b.concat(0, e.n, b.ints(-1, int64(heads), int64(n), int64(n))))
		att = b.add(att, e.shiftMask(wh, ww, sh, sw))
		att = b.reshape(att, b.ints(-1, int64(heads), int64(n), int64(n)))
	}
	att = b.node("Softmax", []string{att}, attrInt("axis", -1))
	o := b.node("MatMul", []string{att, v})                           // [B, h, n, d]
	o = b.reshape(b.transpose(o, 0, 2, 1, 3), b.ints(0, 0, int64(C))) // [B, n, C]
	if cfg.Proj() == model.ProjQKV {
		return e.linear(o, p+"proj")
	}
	// Grouped output projection, no shortcut: block-diagonal [C, C].
	w := make([]float32, C*C)
	bias := make([]float32, C)
	for h, sub := range []string{"proj1", "proj2"} {
		lw, lb := e.weight(p+sub+".weight"), e.weight(p+sub+".bias")
		off := h * half
		for r := range half {
			for c := range half {
				w[(off+r)*C+off+c] = lw[c*half+r]
			}
		}
		copy(bias[off:], lb)
	}
	return b.add(b.node("MatMul", []string{o, b.f32(p+"grl_proj.weight", w, C, C)}), b.f32(p+"grl_proj.bias", bias, C))
}

// positionBias is the block's relative position bias [h, n, n], computed in
// the graph from initializers only (so that ONNX Runtime folds it into a
// constant when it loads the model): for "esrpb" and "cpb-log"
// 16*sigmoid(MLP(table))[index], for "table" the learned table[index], ""
// for "none".
func (e *exporter) positionBias(p string, heads, wh, ww int) string {
	b, kind := e.b, e.cfg.Bias()
	var rows string // [(2wh-1)(2ww-1), heads]
	switch kind {
	case model.BiasESRPB, model.BiasCPBLog:
		mlp := p + "ESRPB_MLP."
		if kind == model.BiasCPBLog {
			mlp = p + "cpb_mlp."
		}
		hid := model.BiasMLPHidden(kind)
		h := b.node("MatMul", []string{e.coordTable(kind, wh, ww), b.f32(mlp+"0.weight^T", transpose(e.weight(mlp+"0.weight"), hid, 2), 2, hid)})
		h = b.node("Relu", []string{b.add(h, b.f32(mlp+"0.bias", e.weight(mlp+"0.bias"), hid))})
		o := b.node("MatMul", []string{h, b.f32(mlp+"2.weight^T", transpose(e.weight(mlp+"2.weight"), heads, hid), hid, heads)})
		rows = b.mul(b.node("Sigmoid", []string{o}), b.constF(16))
	case model.BiasTable:
		key := p + "relative_position_bias_table"
		rows = b.f32(key, e.weight(key), (2*wh-1)*(2*ww-1), heads)
	default:
		return ""
	}
	g := b.node("Gather", []string{rows, e.relativeIndex(wh, ww)}, attrInt("axis", 0)) // [n, n, h]
	return b.transpose(g, 2, 0, 1)
}

// coordTable is the position-bias MLP's input table for a window, shared by
// the blocks of that orientation.
func (e *exporter) coordTable(kind model.PosBias, wh, ww int) string {
	key := fmt.Sprintf("%s_table_%dx%d", kind, wh, ww)
	if v, ok := e.tables[key]; ok {
		return v
	}
	v := e.b.f32(key, model.CoordTable(kind, wh, ww), (2*wh-1)*(2*ww-1), 2)
	e.tables[key] = v
	return v
}

// relativeIndex is the relative position index [n, n] of a window.
func (e *exporter) relativeIndex(wh, ww int) string {
	k := [2]int{wh, ww}
	if v, ok := e.indexes[k]; ok {
		return v
	}
	n := wh * ww
	v := e.b.i64(fmt.Sprintf("relative_position_index_%dx%d", wh, ww), model.RelativePositionIndex(wh, ww), n, n)
	e.indexes[k] = v
	return v
}

// shiftMask is the shift mask [nW, 1, n, n] (0 or -1e9) of a shifted block
// at the padded size, built in the graph (spec, "Shift mask") and shared by
// the blocks with the same window and shift. The reference labels the
// padded map by slices assigned in order, later ones overwriting earlier
// ones; the last row slice containing y is 2 if y >= Hp-sh, else 1 if
// y >= Hp-wh, else 0 (this also covers sh > wh, where [-wh:-sh] is empty and
// [-sh:] overwrites part of [0:-wh]); the same for columns, and the label is
// 3*row + column. Tokens attend to each other where the labels are equal.
func (e *exporter) shiftMask(wh, ww, sh, sw int) string {
	k := [4]int{wh, ww, sh, sw}
	if v, ok := e.masks[k]; ok {
		return v
	}
	b := e.b
	labels := func(np string, win, shift int) string {
		i := b.node("Range", []string{b.scalarI(0), b.node("Squeeze", []string{np, b.ints(0)}), b.scalarI(1)})
		one := b.where(b.geq(i, b.sub(np, b.ints(int64(win)))), b.ints(1), b.ints(0))
		return b.where(b.geq(i, b.sub(np, b.ints(int64(shift)))), b.ints(2), one)
	}
	rl, cl := labels(e.hp, wh, sh), labels(e.wp, ww, sw)
	lab := b.add(b.mul(b.unsqueeze(rl, 1), b.ints(3)), b.unsqueeze(cl, 0)) // [Hp, Wp]
	lab = b.reshape(lab, b.concat(0, b.ints(-1, int64(wh)), e.gridWidth(ww), b.ints(int64(ww))))
	lab = b.reshape(b.transpose(lab, 0, 2, 1, 3), b.ints(-1, int64(wh*ww))) // [nW, n]
	eq := b.node("Equal", []string{b.unsqueeze(lab, 2), b.unsqueeze(lab, 1)})
	mask := b.where(eq, b.constF(0), b.constF(maskValue))
	v := b.unsqueeze(mask, 1)
	e.masks[k] = v
	return v
}

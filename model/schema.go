package model

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/grformer/grformer/checkpoint"
)

// Kind tells a trainable parameter from a derivable buffer.
type Kind uint8

const (
	// Parameter is a trained tensor: loading requires it, training updates it.
	Parameter Kind = iota
	// Buffer is a tensor the reference registers as a buffer: derivable from
	// the configuration, optional when loading (checked when present),
	// written on export so that PyTorch loads the file with strict=True.
	Buffer
)

func (k Kind) String() string {
	if k == Buffer {
		return "buffer"
	}
	return "parameter"
}

// Init is how a parameter starts, as the reference initialises it.
type Init uint8

const (
	// InitDerived marks buffers: their value is TensorSpec.Value.
	InitDerived Init = iota
	// InitTruncNormal draws N(0, 0.02^2) cut at +-0.04 (timm's
	// trunc_normal_(std=.02), whose +-2 cut is absolute: the same here).
	InitTruncNormal
	// InitZeros and InitOnes fill with 0 and 1 (Linear biases, LayerNorms).
	InitZeros
	InitOnes
	// InitUniform draws U(-1/sqrt(FanIn), 1/sqrt(FanIn)): PyTorch's default
	// for convolution weights and biases.
	InitUniform
	// InitLn10 fills with ln 10 (the logit scales).
	InitLn10
)

// TensorSpec is one tensor of a GRFormer state dict.
type TensorSpec struct {
	Key   string // the reference's PyTorch key, verbatim
	Shape []int
	Kind  Kind
	Init  Init
	FanIn int // InitUniform's fan-in (input channels per group x 3 x 3)
	// Comp is the Costs component the tensor's parameters count in.
	Comp string
	// Value computes a buffer's content (nil for parameters).
	Value func() *checkpoint.Tensor
}

// Numel is the number of elements of the tensor.
func (t TensorSpec) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Schema lists every tensor of a GRFormer state dict with configuration cfg
// once, in the reference's state-dict order (spec, "Checkpoint format"):
// key, shape, kind and initialiser. Loading (New), initialisation
// (InitStateDict), the training network, export (Buffers, FullStateDict)
// and the parameter counts of Costs are all driven by it. cfg must be
// valid.
//
// Buffers: per block, the position-bias coordinate table
// (relative_position_bias_table [1, 2Wh-1, 2Ww-1, 2] for ES-RPB,
// relative_coords_table for cpb-log), relative_position_index [n, n] (I64,
// every variant with a position bias) and, on shifted blocks, attn_mask
// [nW, n, n] for an ImgSize x ImgSize input when ImgSize is a multiple of
// the window. The "table" variant's relative_position_bias_table
// [(2Wh-1)(2Ww-1), heads] is a parameter.
func Schema(cfg Config) []TensorSpec {
	var s []TensorSpec
	param := func(key string, init Init, comp string, shape ...int) {
		s = append(s, TensorSpec{Key: key, Shape: shape, Kind: Parameter, Init: init, Comp: comp})
	}
	buffer := func(key string, value func() *checkpoint.Tensor, shape ...int) {
		s = append(s, TensorSpec{Key: key, Shape: shape, Kind: Buffer, Init: InitDerived, Value: value})
	}
	linear := func(key, comp string, out, in int, bias bool) {
		param(key+".weight", InitTruncNormal, comp, out, in)
		if bias {
			param(key+".bias", InitZeros, comp, out)
		}
	}
	conv := func(key, comp string, out, inPerGroup int) {
		s = append(s,
			TensorSpec{Key: key + ".weight", Shape: []int{out, inPerGroup, 3, 3}, Kind: Parameter, Init: InitUniform, FanIn: inPerGroup * 9, Comp: comp},
			TensorSpec{Key: key + ".bias", Shape: []int{out}, Kind: Parameter, Init: InitUniform, FanIn: inPerGroup * 9, Comp: comp})
	}
	norm := func(key string, c int) {
		param(key+".weight", InitOnes, CompNorms, c)
		param(key+".bias", InitZeros, CompNorms, c)
	}
	C, half, hid := cfg.EmbedDim, cfg.EmbedDim/2, cfg.Hidden()
	conv("conv_first", CompConvFirst, C, cfg.InChans)
	for g, depth := range cfg.Depths {
		h := cfg.NumHeads[g]
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			wh, ww, sh, sw := cfg.BlockWindow(i)
			n := wh * ww
			rows := (2*wh - 1) * (2*ww - 1)
			norm(p+"norm1", C)
			param(p+"attn.logit_scale", InitLn10, CompLogitScale, h, 1, 1)
			switch cfg.Bias() {
			case BiasESRPB:
				linear(p+"attn.ESRPB_MLP.0", CompPosBias, esrpbHidden, 2, true)
				linear(p+"attn.ESRPB_MLP.2", CompPosBias, h, esrpbHidden, false)
				buffer(p+"attn.relative_position_bias_table", func() *checkpoint.Tensor {
					return checkpoint.NewF32([]int{1, 2*wh - 1, 2*ww - 1, 2}, ESRPBTable(wh, ww))
				}, 1, 2*wh-1, 2*ww-1, 2)
			case BiasCPBLog:
				linear(p+"attn.cpb_mlp.0", CompPosBias, cpbHidden, 2, true)
				linear(p+"attn.cpb_mlp.2", CompPosBias, h, cpbHidden, false)
				buffer(p+"attn.relative_coords_table", func() *checkpoint.Tensor {
					return checkpoint.NewF32([]int{1, 2*wh - 1, 2*ww - 1, 2}, CPBLogTable(wh, ww))
				}, 1, 2*wh-1, 2*ww-1, 2)
			case BiasTable:
				param(p+"attn.relative_position_bias_table", InitTruncNormal, CompPosBias, rows, h)
			}
			if cfg.Bias() != BiasNone {
				buffer(p+"attn.relative_position_index", func() *checkpoint.Tensor {
					return checkpoint.NewI64([]int{n, n}, RelativePositionIndex(wh, ww))
				}, n, n)
			}
			if cfg.Proj() == ProjQKV {
				linear(p+"attn.qkv", CompQKV, 3*C, C, true)
				linear(p+"attn.proj", CompProj, C, C, true)
			} else {
				for _, k := range []string{"q1", "q2", "k1", "k2", "v1", "v2"} {
					linear(p+"attn."+k, CompQKV, half, half, true)
				}
				linear(p+"attn.proj1", CompProj, half, half, true)
				linear(p+"attn.proj2", CompProj, half, half, true)
			}
			norm(p+"norm2", C)
			linear(p+"mlp.fc1", CompFC1, hid, C, true)
			conv(p+"mlp.dwconv.depthwise_conv.0", CompDWConv, hid, 1)
			conv(p+"mlp.dwconv.depthwise_conv.2", CompDWConv, hid, 1)
			linear(p+"mlp.fc2", CompFC2, C, hid, true)
			if sz := cfg.ImgSize; (sh != 0 || sw != 0) && sz > 0 && sz%wh == 0 && sz%ww == 0 {
				nw := (sz / wh) * (sz / ww)
				buffer(p+"attn_mask", func() *checkpoint.Tensor {
					return checkpoint.NewF32([]int{nw, n, n}, ShiftMask(sz, sz, wh, ww, sh, sw))
				}, nw, n, n)
			}
		}
		conv(fmt.Sprintf("layers.%d.conv", g), CompGroupConv, C, C)
	}
	norm("norm", C)
	conv("conv_after_body", CompConvAfterBody, C, C)
	conv("upsample.0", CompUpsampler, cfg.InChans*cfg.Scale*cfg.Scale, C)
	return s
}

// schemaIndex maps the keys of Schema(cfg) to their specs.
func schemaIndex(cfg Config) map[string]TensorSpec {
	s := Schema(cfg)
	m := make(map[string]TensorSpec, len(s))
	for _, t := range s {
		m[t.Key] = t
	}
	return m
}

// IsBuffer reports whether key names one of cfg's derivable buffers. A
// shifted block's attn_mask counts as a buffer whatever its training size.
func IsBuffer(cfg Config, key string) bool {
	if t, ok := schemaIndex(cfg)[key]; ok {
		return t.Kind == Buffer
	}
	return isMaskKey(key)
}

// Buffers returns the derivable buffers of cfg, as Schema lists them:
// what a reference (BasicSR) checkpoint holds besides the parameters.
func Buffers(cfg Config) (checkpoint.StateDict, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sd := checkpoint.StateDict{}
	for _, t := range Schema(cfg) {
		if t.Kind == Buffer {
			sd[t.Key] = t.Value()
		}
	}
	return sd, nil
}

// ParamsOnly returns sd without cfg's buffers (the tensors are shared).
func ParamsOnly(cfg Config, sd checkpoint.StateDict) checkpoint.StateDict {
	idx := schemaIndex(cfg)
	out := checkpoint.StateDict{}
	for k, t := range sd {
		if s, ok := idx[k]; (ok && s.Kind == Buffer) || (!ok && isMaskKey(k)) {
			continue
		}
		out[k] = t
	}
	return out
}

// FullStateDict returns the parameters of params (any buffers in it are
// dropped) plus Buffers(cfg): what a BasicSR checkpoint of the reference
// holds, which PyTorch loads with strict key matching. The parameters are
// checked against the schema.
func FullStateDict(cfg Config, params checkpoint.StateDict) (checkpoint.StateDict, error) {
	out := ParamsOnly(cfg, params)
	if err := CheckStateDict(cfg, out); err != nil {
		return nil, err
	}
	bufs, err := Buffers(cfg)
	if err != nil {
		return nil, err
	}
	for k, t := range bufs {
		out[k] = t
	}
	return out, nil
}

// isMaskKey reports whether key is a block's attn_mask buffer.
func isMaskKey(key string) bool {
	return reBlock.MatchString(key) && strings.HasSuffix(key, ".attn_mask")
}

// CheckStateDict checks sd against Schema(cfg): every parameter present,
// with its shape, floating point and finite; every buffer, when present,
// with its shape and the value the configuration gives it; no other key.
// Errors name the key and both shapes.
func CheckStateDict(cfg Config, sd checkpoint.StateDict) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	schema := Schema(cfg)
	known := make(map[string]bool, len(schema))
	params := make(map[string]bool, len(schema))
	for _, s := range schema {
		known[s.Key] = true
		params[s.Key] = s.Kind == Parameter
		t, ok := sd[s.Key]
		switch {
		case !ok && s.Kind == Buffer:
			continue
		case !ok:
			return fmt.Errorf("model: missing key %s (want shape %v)", s.Key, s.Shape)
		case !slices.Equal(t.Shape, s.Shape) && s.Kind == Buffer:
			return fmt.Errorf("model: buffer %s has shape %v in the checkpoint, the model wants %v", s.Key, t.Shape, s.Shape)
		case !slices.Equal(t.Shape, s.Shape):
			return fmt.Errorf("model: key %s has shape %v in the checkpoint, the model wants %v", s.Key, t.Shape, s.Shape)
		case s.Kind == Parameter && t.F32 == nil:
			return fmt.Errorf("model: key %s has dtype %s, want a floating-point tensor", s.Key, t.DType)
		case s.Kind == Parameter:
		default:
			if err := checkBuffer(cfg, s, t); err != nil {
				return err
			}
		}
	}
	// A NaN or Inf weight would make every output black. Buffers are left
	// out: fp16 stores the masks' -1e9 as -Inf, and they are checked above.
	if err := sd.CheckFinite(func(k string) bool { return params[k] }); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	var extra []string
	for k := range sd {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	more := ""
	if len(extra) > 5 {
		more = fmt.Sprintf(" and %d more", len(extra)-5)
		extra = extra[:5]
	}
	return fmt.Errorf("model: unexpected keys in the checkpoint: %v%s (shape of the first: %v)", extra, more, sd[extra[0]].Shape)
}

// checkBuffer compares a stored buffer with the value of its spec.
func checkBuffer(cfg Config, s TensorSpec, t *checkpoint.Tensor) error {
	switch {
	case strings.HasSuffix(s.Key, ".attn_mask"):
		i, _ := strconv.Atoi(reBlock.FindStringSubmatch(s.Key)[2])
		b := &Block{}
		b.wh, b.ww, b.sh, b.sw = cfg.BlockWindow(i)
		return checkMask(s.Key, t, cfg.ImgSize, b)
	case strings.HasSuffix(s.Key, ".relative_position_index"):
		return checkIndex(s.Key, t, s.Value().I64)
	default:
		return checkTable(s.Key, t, s.Value().F32)
	}
}

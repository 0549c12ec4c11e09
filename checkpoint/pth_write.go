package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// WritePTH writes sd as a PyTorch zip-format checkpoint that torch.load
// reads (also with weights_only=True): a zip of archive/data.pkl (pickle
// protocol 2), archive/byteorder, one uncompressed, 64-byte aligned
// archive/data/N entry per tensor, and archive/version. Floating tensors are
// stored as torch.FloatStorage (torch.DoubleStorage for an F64 tensor that
// carries F64 values), integer and boolean ones as torch.LongStorage.
//
// With wrap == "" the pickle is the state dict itself (an OrderedDict, as
// torch.save(model.state_dict()) writes); otherwise it is {wrap: state_dict},
// so wrap == "params" gives what BasicSR saves.
func WritePTH(w io.Writer, sd StateDict, wrap string) error {
	if err := writePTH(w, sd, wrap); err != nil {
		return fmt.Errorf("checkpoint: pth: %w", err)
	}
	return nil
}

func writePTH(w io.Writer, sd StateDict, wrap string) error {
	keys := sd.Keys()
	if err := validateForWrite(sd, keys); err != nil {
		return err
	}
	top := pthTop{key: wrap}
	storages := make([]pthStorage, len(keys))
	for i, k := range keys {
		t := sd[k]
		numel, _ := shapeNumel(t.Shape)
		key := fmt.Sprint(i)
		storages[i] = pthStorage{key: key, dtype: outputKind(t), numel: numel, tensor: t}
		top.tensors = append(top.tensors, pthTensor{name: k, storage: key, shape: t.Shape, stride: contiguousStrides(t.Shape)})
	}
	return writePTHRaw(w, []pthTop{top}, storages)
}

// contiguousStrides returns the C-order strides of shape, in elements.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for d := len(shape) - 1; d >= 0; d-- {
		st[d] = acc
		acc *= shape[d]
	}
	return st
}

// pthTop is one dict of tensors in the pickle, stored under key in the
// top-level dict (key == "": the dict is the top-level object).
type pthTop struct {
	key     string
	tensors []pthTensor
}

// pthTensor is one tensor of a pthTop: a view of a storage.
type pthTensor struct {
	name          string
	storage       string // storage key
	offset        int
	shape, stride []int
	param         bool // pickled as an nn.Parameter (_rebuild_parameter)
}

// pthStorage is one data/<key> entry: raw bytes, or the bytes of a tensor
// (encoded when written, so that only one storage is in memory at a time).
type pthStorage struct {
	key    string
	dtype  DType
	numel  int
	data   []byte
	tensor *Tensor
}

// storageClassName is the torch storage class of a dtype.
func storageClassName(dt DType) string {
	for name, d := range storageDTypes {
		if d == dt {
			return name
		}
	}
	return ""
}

// writePTHRaw writes a zip-format checkpoint holding the given dicts of
// views over the given storages. WritePTH uses it with one contiguous
// storage per tensor; tests use it to build strided, shared and
// non-float32 checkpoints.
func writePTHRaw(w io.Writer, tops []pthTop, storages []pthStorage) error {
	byKey := make(map[string]*pthStorage, len(storages))
	for i := range storages {
		s := &storages[i]
		if storageClassName(s.dtype) == "" {
			return fmt.Errorf("storage %q: no torch storage class for dtype %s", s.key, s.dtype)
		}
		if int64(s.numel)*int64(s.dtype.Size()) >= math.MaxUint32 {
			return fmt.Errorf("storage %q: %d elements is too large for this writer (no zip64)", s.key, s.numel)
		}
		byKey[s.key] = s
	}
	pkl, err := picklePTH(tops, byKey)
	if err != nil {
		return err
	}
	const archive = "archive/"
	cw := &countingWriter{w: w}
	zw := zip.NewWriter(cw)
	if err := writeAligned(zw, cw, archive+"data.pkl", pkl); err != nil {
		return err
	}
	if err := writeAligned(zw, cw, archive+"byteorder", []byte("little")); err != nil {
		return err
	}
	for _, s := range storages {
		data := s.data
		if data == nil && s.tensor != nil {
			data = tensorBytes(s.tensor)
		}
		if want := s.numel * s.dtype.Size(); len(data) != want {
			return fmt.Errorf("storage %q: %d bytes, want %d", s.key, len(data), want)
		}
		if err := writeAligned(zw, cw, archive+"data/"+s.key, data); err != nil {
			return err
		}
	}
	if err := writeAligned(zw, cw, archive+"version", []byte("3\n")); err != nil {
		return err
	}
	return zw.Close()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// pthAlignment is the alignment of entry data in the zip, as torch uses.
const pthAlignment = 64

// writeAligned adds an uncompressed entry whose data starts at a multiple
// of pthAlignment, padding the local header's extra field as PyTorch does
// (an extra block with id "FB").
func writeAligned(zw *zip.Writer, cw *countingWriter, name string, data []byte) error {
	if err := zw.Flush(); err != nil {
		return err
	}
	const localHeaderLen = 30
	end := cw.n + localHeaderLen + int64(len(name))
	pad := int((pthAlignment - end%pthAlignment) % pthAlignment)
	if pad > 0 && pad < 4 {
		pad += pthAlignment
	}
	var extra []byte
	if pad > 0 {
		extra = make([]byte, pad)
		extra[0], extra[1] = 'F', 'B'
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad-4))
	}
	fw, err := zw.CreateRaw(&zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(data),
		CompressedSize64:   uint64(len(data)),
		UncompressedSize64: uint64(len(data)),
		Extra:              extra,
		ModifiedDate:       1<<5 | 1, // 1980-01-01, deterministic output
	})
	if err != nil {
		return err
	}
	_, err = fw.Write(data)
	return err
}

// pickler emits a protocol-2 pickle the way Python's pickler lays out a
// state dict, memoizing strings and globals.
type pickler struct {
	b    bytes.Buffer
	memo map[string]int
}

func (p *pickler) put(key string) {
	idx := len(p.memo)
	p.memo[key] = idx
	if idx < 256 {
		p.b.WriteByte('q') // BINPUT
		p.b.WriteByte(byte(idx))
	} else {
		p.b.WriteByte('r') // LONG_BINPUT
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(idx)))
	}
}

// memoized emits a BINGET for key if it was memoized, reporting whether it
// did.
func (p *pickler) memoized(key string) bool {
	idx, ok := p.memo[key]
	if !ok {
		return false
	}
	if idx < 256 {
		p.b.WriteByte('h') // BINGET
		p.b.WriteByte(byte(idx))
	} else {
		p.b.WriteByte('j') // LONG_BINGET
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(idx)))
	}
	return true
}

func (p *pickler) str(s string) {
	key := "s" + s
	if p.memoized(key) {
		return
	}
	p.b.WriteByte('X') // BINUNICODE
	p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.b.WriteString(s)
	p.put(key)
}

func (p *pickler) global(module, name string) {
	key := "g" + module + "\n" + name
	if p.memoized(key) {
		return
	}
	p.b.WriteString("c" + module + "\n" + name + "\n") // GLOBAL
	p.put(key)
}

func (p *pickler) int(n int) {
	switch {
	case n >= 0 && n < 1<<8:
		p.b.WriteByte('K') // BININT1
		p.b.WriteByte(byte(n))
	case n >= 0 && n < 1<<16:
		p.b.WriteByte('M') // BININT2
		p.b.Write(binary.LittleEndian.AppendUint16(nil, uint16(n)))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		p.b.WriteByte('J') // BININT
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(n))))
	default:
		// LONG1: minimal little-endian two's complement.
		v := binary.LittleEndian.AppendUint64(nil, uint64(n))
		for len(v) > 1 {
			last, prev := v[len(v)-1], v[len(v)-2]
			if last == 0 && prev&0x80 == 0 || last == 0xff && prev&0x80 != 0 {
				v = v[:len(v)-1]
				continue
			}
			break
		}
		p.b.WriteByte(0x8a)
		p.b.WriteByte(byte(len(v)))
		p.b.Write(v)
	}
}

func (p *pickler) intTuple(v []int) {
	switch len(v) {
	case 0:
		p.b.WriteByte(')') // EMPTY_TUPLE
		return
	case 1, 2, 3:
		for _, x := range v {
			p.int(x)
		}
		p.b.WriteByte(0x85 + byte(len(v)-1)) // TUPLE1..3
		return
	}
	p.b.WriteByte('(')
	for _, x := range v {
		p.int(x)
	}
	p.b.WriteByte('t')
}

// emptyOrderedDict emits collections.OrderedDict().
func (p *pickler) emptyOrderedDict() {
	p.global("collections", "OrderedDict")
	p.b.WriteByte(')')
	p.b.WriteByte('R')
}

// picklePTH builds data.pkl for writePTHRaw.
func picklePTH(tops []pthTop, storages map[string]*pthStorage) ([]byte, error) {
	p := &pickler{memo: make(map[string]int)}
	p.b.Write([]byte{0x80, 2}) // PROTO 2
	bare := len(tops) == 1 && tops[0].key == ""
	if !bare {
		p.b.WriteByte('}') // EMPTY_DICT
	}
	for _, top := range tops {
		if top.key == "" && !bare {
			return nil, errors.New("an empty wrap key needs a single top-level dict")
		}
		if !bare {
			p.str(top.key)
		}
		p.emptyOrderedDict()
		const batch = 1000 // Python's pickler batches SETITEMS by 1000
		for start := 0; start < len(top.tensors); start += batch {
			p.b.WriteByte('(')
			for _, t := range top.tensors[start:min(start+batch, len(top.tensors))] {
				s, ok := storages[t.storage]
				if !ok {
					return nil, fmt.Errorf("tensor %q: no storage %q", t.name, t.storage)
				}
				p.str(t.name)
				if t.param {
					p.global("torch._utils", "_rebuild_parameter")
				}
				p.global("torch._utils", "_rebuild_tensor_v2")
				p.b.WriteByte('(')
				// Persistent id ('storage', type, key, location, numel).
				p.b.WriteByte('(')
				p.str("storage")
				p.global("torch", storageClassName(s.dtype))
				p.str(s.key)
				p.str("cpu")
				p.int(s.numel)
				p.b.WriteByte('t')
				p.b.WriteByte('Q') // BINPERSID
				p.int(t.offset)
				p.intTuple(t.shape)
				p.intTuple(t.stride)
				p.b.WriteByte(0x89) // NEWFALSE: requires_grad
				p.emptyOrderedDict()
				p.b.WriteByte('t')
				p.b.WriteByte('R')
				if t.param {
					p.b.WriteByte(0x88) // NEWTRUE: requires_grad
					p.emptyOrderedDict()
					p.b.WriteByte(0x87) // TUPLE3
					p.b.WriteByte('R')
				}
			}
			p.b.WriteByte('u') // SETITEMS
		}
		if !bare {
			p.b.WriteByte('s') // SETITEM
		}
	}
	p.b.WriteByte('.')
	return p.b.Bytes(), nil
}

package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxSafetensorsHeader is the largest JSON header of the format, the limit
// of the reference implementation (safetensors' MAX_HEADER_SIZE); it is what
// sniffing a file as safetensors goes by.
const maxSafetensorsHeader = 100_000_000

// maxHeaderRead is the largest header this reader decodes: parsing costs
// a few times the header's size, and a real header takes about 100 bytes
// per tensor (maxTensors of them fit within it).
const maxHeaderRead = 8 << 20

// maxEntryLen bounds the JSON of one tensor's header entry (a real one is
// under 200 bytes), which bounds what decoding its arrays costs.
const maxEntryLen = 4096

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// ReadSafetensors reads a whole safetensors stream. It buffers the stream in
// memory; with a file, DecodeSafetensors (or Load) reads only what it needs.
func ReadSafetensors(r io.Reader) (StateDict, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: safetensors: %w", err)
	}
	sd, _, err := decodeSafetensors(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: safetensors: %w", bound(err))
	}
	return sd, nil
}

// DecodeSafetensors reads a safetensors file of the given size from r. The
// returned LoadInfo has Format "safetensors", the tensor names in data order
// and the header's __metadata__.
func DecodeSafetensors(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	sd, info, err := decodeSafetensors(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: safetensors: %w", bound(err))
	}
	return sd, info, nil
}

// stEntry is one tensor of a safetensors header.
type stEntry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

// stHeaderEntry is the JSON form of a header entry.
type stHeaderEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// decodeSafetensors is DecodeSafetensors without the error prefix.
func decodeSafetensors(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("file too short for a safetensors header (%d bytes)", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d-byte limit of the format", n, maxSafetensorsHeader)
	}
	if n > maxHeaderRead {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d-byte limit of this reader", n, maxHeaderRead)
	}
	if int64(n) > size-8 {
		return nil, nil, fmt.Errorf("header length %d goes beyond the end of the file (%d bytes): truncated?", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	entries, meta, err := parseSafetensorsHeader(hdr)
	if err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	for _, e := range entries {
		if e.begin < 0 || e.end < e.begin {
			return nil, nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] outside the data area (%d bytes)", quote(e.name), e.begin, e.end, dataLen)
		}
		if e.end > dataLen {
			return nil, nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] outside the data area (%d bytes; truncated file?)", quote(e.name), e.begin, e.end, dataLen)
		}
		numel, ok := shapeNumel(e.shape)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %s: invalid shape %v", quote(e.name), e.shape)
		}
		if want := int64(numel) * int64(e.dtype.Size()); want != e.end-e.begin {
			return nil, nil, fmt.Errorf("tensor %s: shape %v of %s needs %d bytes, data_offsets [%d, %d] span %d", quote(e.name), e.shape, e.dtype, want, e.begin, e.end, e.end-e.begin)
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	for i := 1; i < len(entries); i++ {
		if p, e := entries[i-1], entries[i]; e.begin < p.end {
			return nil, nil, fmt.Errorf("tensors %s [%d, %d] and %s [%d, %d] overlap", quote(p.name), p.begin, p.end, quote(e.name), e.begin, e.end)
		}
	}
	sd := make(StateDict, len(entries))
	info := &LoadInfo{Format: FormatSafetensors, Source: SourceStateDict, Metadata: meta}
	for _, e := range entries {
		buf := make([]byte, e.end-e.begin)
		if len(buf) > 0 {
			if _, err := r.ReadAt(buf, dataStart+e.begin); err != nil {
				return nil, nil, fmt.Errorf("tensor %s: reading data: %w", quote(e.name), err)
			}
		}
		numel, _ := shapeNumel(e.shape)
		t := allocTensor(e.dtype, e.shape, numel)
		if !decodeRun(t, 0, buf, e.dtype) {
			return nil, nil, fmt.Errorf("tensor %s: U64 value does not fit an int64", quote(e.name))
		}
		sd[e.name] = t
		info.Keys = append(info.Keys, e.name)
	}
	return sd, info, nil
}

// parseSafetensorsHeader decodes the JSON header, rejecting duplicate names,
// unknown dtypes, malformed entries and trailing garbage.
func parseSafetensorsHeader(hdr []byte) ([]stEntry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(hdr, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errors.New("header is not a JSON object (not a safetensors file?)")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, fmt.Errorf("header JSON: %w", err)
	}
	seen := make(map[string]bool)
	var entries []stEntry
	var meta map[string]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header JSON: unexpected %s", describeToken(tok))
		}
		if len(seen) >= maxTensors {
			return nil, nil, fmt.Errorf("header has more than the limit of %d tensors", maxTensors)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("header names %s twice", quote(name))
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("header JSON, entry %s: %w", quote(name), err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("header %s must map strings to strings: %w", metadataKey, err)
			}
			continue
		}
		if len(raw) > maxEntryLen {
			return nil, nil, fmt.Errorf("tensor %s: header entry of %d bytes, more than the limit of %d", quote(name), len(raw), maxEntryLen)
		}
		var he stHeaderEntry
		if err := json.Unmarshal(raw, &he); err != nil {
			return nil, nil, fmt.Errorf("tensor %s: header entry: %w", quote(name), err)
		}
		dt := DType(he.DType)
		if dt.Size() == 0 {
			if he.DType == "" {
				return nil, nil, fmt.Errorf("tensor %s: header entry has no dtype", quote(name))
			}
			return nil, nil, fmt.Errorf("tensor %s: unsupported dtype %s", quote(name), quote(he.DType))
		}
		if he.Shape == nil {
			return nil, nil, fmt.Errorf("tensor %s: header entry has no shape", quote(name))
		}
		if len(he.Offsets) != 2 {
			return nil, nil, fmt.Errorf("tensor %s: data_offsets must be [begin, end], got %d values", quote(name), len(he.Offsets))
		}
		if len(he.Shape) > maxRank {
			return nil, nil, fmt.Errorf("tensor %s: %d dimensions, more than the limit of %d", quote(name), len(he.Shape), maxRank)
		}
		shape := make([]int, len(he.Shape))
		for i, d := range he.Shape {
			if d < 0 || d > maxElements {
				return nil, nil, fmt.Errorf("tensor %s: invalid shape %v", quote(name), he.Shape)
			}
			shape[i] = int(d)
		}
		entries = append(entries, stEntry{name: name, dtype: dt, shape: shape, begin: he.Offsets[0], end: he.Offsets[1]})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, fmt.Errorf("header JSON: %w", err)
	}
	if rest := strings.TrimSpace(string(hdr[dec.InputOffset():])); rest != "" {
		return nil, nil, fmt.Errorf("header has trailing data after the JSON object")
	}
	return entries, meta, nil
}

// describeToken names a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch x := tok.(type) {
	case json.Delim:
		return "'" + x.String() + "'"
	case string:
		return quote(x)
	}
	return fmt.Sprintf("%T", tok)
}

// WriteSafetensors writes sd in safetensors format: an 8-byte little-endian
// header length, a JSON header padded with spaces to a multiple of 8 bytes,
// then the tensor data in sorted key order. Floating tensors are written as
// F32 (as F64 when DType is F64 and F64 holds the values), integer and
// boolean tensors as I64. meta, if not empty, becomes __metadata__.
func WriteSafetensors(w io.Writer, sd StateDict, meta map[string]string) error {
	if err := writeSafetensors(w, sd, meta); err != nil {
		return fmt.Errorf("checkpoint: safetensors: %w", err)
	}
	return nil
}

func writeSafetensors(w io.Writer, sd StateDict, meta map[string]string) error {
	keys := sd.Keys()
	if err := validateForWrite(sd, keys); err != nil {
		return err
	}
	if _, ok := sd[metadataKey]; ok {
		return fmt.Errorf("tensor name %q is reserved", metadataKey)
	}
	var h bytes.Buffer
	h.WriteByte('{')
	if len(meta) > 0 {
		mj, err := json.Marshal(meta) // sorted keys
		if err != nil {
			return err
		}
		h.WriteString(`"` + metadataKey + `":`)
		h.Write(mj)
	}
	var off int64
	for i, k := range keys {
		t := sd[k]
		kind := outputKind(t)
		numel, _ := shapeNumel(t.Shape)
		nbytes := int64(numel) * int64(kind.Size())
		if i > 0 || len(meta) > 0 {
			h.WriteByte(',')
		}
		kj, err := json.Marshal(k)
		if err != nil {
			return err
		}
		h.Write(kj)
		fmt.Fprintf(&h, `:{"dtype":"%s","shape":[`, kind)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			fmt.Fprint(&h, d)
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+nbytes)
		off += nbytes
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(h.Len()))
	bw.Write(lenBuf[:])
	bw.Write(h.Bytes())
	for _, k := range keys {
		if _, err := bw.Write(tensorBytes(sd[k])); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// validateForWrite checks every tensor of sd before a writer emits a byte.
func validateForWrite(sd StateDict, keys []string) error {
	for _, k := range keys {
		if k == "" {
			return errors.New("empty tensor name")
		}
		if err := sd[k].Validate(); err != nil {
			return fmt.Errorf("tensor %q: %w", k, err)
		}
	}
	return nil
}

package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// Hostile files (issue 12): each is small, and must be refused with a short
// message naming the file and the limit, allocating little. Allocation is
// measured with runtime.MemStats.TotalAlloc, which counts every allocation
// (also memory never touched), so it is a bound on work as well.

// hostileZip builds a zip whose data.pkl is deflated when deflatePkl, with
// extra entries deflated when deflateRest.
func hostileZip(t testing.TB, pkl []byte, deflatePkl, deflateRest bool, extra ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte, deflate bool) {
		m := zip.Store
		if deflate {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("archive/data.pkl", pkl, deflatePkl)
	for _, e := range extra {
		add(e.name, e.data, deflateRest)
	}
	add("archive/version", []byte("3\n"), false)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// statePickle is a protocol-2 pickle of {"w": tensor} whose storage has
// numel elements (BININT) and whose view has the given shape (a tuple
// opcode sequence) and stride.
func statePickle(name string, numel int32, shape, stride string) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x02}X")
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(name))))
	b.WriteString(name)
	b.WriteString("ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ")
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(numel)))
	b.WriteString("tQK\x00")
	b.WriteString(shape)
	b.WriteString(stride)
	b.WriteString("\x89ccollections\nOrderedDict\n)RtRs.")
	return b.Bytes()
}

// long4 is a LONG4 opcode of n bytes of value fill.
func long4(n int, fill byte) []byte {
	b := append([]byte{0x8b}, binary.LittleEndian.AppendUint32(nil, uint32(n))...)
	return append(b, bytes.Repeat([]byte{fill}, n)...)
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostileCases are the files of issue 12, in small sizes; want is in the
// error, maxAlloc bounds the bytes allocated to refuse it (beyond reading
// the file).
func hostileCases(t testing.TB) []struct {
	name     string
	data     []byte
	want     string
	maxAlloc uint64
} {
	const mb = 1 << 20
	reduceStr := append([]byte("\x80\x02X"), binary.LittleEndian.AppendUint32(nil, 4*mb)...)
	reduceStr = append(append(reduceStr, bytes.Repeat([]byte{'a'}, 4*mb)...), ")R."...)
	reduceList := append([]byte("\x80\x02]("), bytes.Repeat([]byte{'N'}, 200_000)...)
	reduceList = append(reduceList, "e)R."...)
	listBomb := append([]byte("\x80\x02]("), bytes.Repeat([]byte{'N'}, 8*mb)...)
	listBomb = append(listBomb, "e)R."...)
	memo := append([]byte("\x80\x04N"), bytes.Repeat([]byte{0x94}, 2_000_000)...)
	memo = append(memo, '.')
	longName := strings.Repeat("n", mb)
	return []struct {
		name     string
		data     []byte
		want     string
		maxAlloc uint64
	}{
		// 1. LONG4 decoding is linear; a value beyond 64 bits is never built.
		{"LONG4 of 1 MB", hostileZip(t, append(append([]byte("\x80\x02"), long4(mb, 1)...), '.'), true, false), "the pickled object is an int beyond 64 bits, not a dict", 3 * mb},
		{"LONG4 storage size", hostileZip(t, bytes.Replace(statePickle("w", 1, "K\x01\x85", "K\x01\x85"), []byte("J\x01\x00\x00\x00tQ"), append(long4(mb, 1), "tQ"...), 1), true, false), `storage "0" has an invalid size an int beyond 64 bits`, 3 * mb},
		// 2. A compressed storage could inflate without bound.
		{"deflated storage", hostileZip(t, statePickle("w", 4*mb, "J\x00\x00\x40\x00\x85", "K\x01\x85"), false, true, zipEntry{"archive/data/0", make([]byte, 16*mb)}), `storage "0": zip entry archive/data/0 is compressed (method 8)`, mb},
		// 3. Messages quote values by type, strings cut short.
		{"REDUCE on a 4 MB string", hostileZip(t, reduceStr, true, false), `REDUCE on the str "aaaa`, 12 * mb},
		{"REDUCE on a list", hostileZip(t, reduceList, true, false), "REDUCE on a list, which is not callable", 40 * mb},
		{"1 MB tensor name", pickleZip(t, statePickle(longName, 1, "K\x02\x85", "K\x01\x85"), zipEntry{"archive/data/0", le[float32](1)}), `tensor "nnnn`, 4 * mb},
		// 5. The decoder's memory estimate bounds what any pickle costs.
		{"list of 8M items", hostileZip(t, listBomb, true, false), "more than the 48 MiB limit of memory", 120 * mb},
		{"2M MEMOIZE", pickleZip(t, memo), "more than the 48 MiB limit of memory", 120 * mb},
		{"rank 17", pickleZip(t, statePickle("w", 1, "("+strings.Repeat("K\x01", 17)+"t", "("+strings.Repeat("K\x01", 17)+"t"), zipEntry{"archive/data/0", le[float32](1)}), "17 dimensions, more than the limit of 16", mb},
		{"data.pkl over 16 MiB", hostileZip(t, make([]byte, 17*mb), true, false), "more than the 16777216 expected", mb},
	}
}

// TestHostilePTH: item 1 (LONG4), 2 (deflated storages), 3 (messages) and 5
// (memo and list bombs, rank) of issue 12.
func TestHostilePTH(t *testing.T) {
	for _, c := range hostileCases(t) {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "weights.pth", c.data)
			var err error
			alloc := allocated(func() { _, err = Load(path) })
			checkRefusal(t, err, path, c.want)
			t.Logf("allocated %d KB", alloc>>10)
			if alloc > c.maxAlloc+uint64(len(c.data)) {
				t.Errorf("allocated %d MB to refuse a %d KB file, want at most %d MB", alloc>>20, len(c.data)>>10, (c.maxAlloc+uint64(len(c.data)))>>20)
			}
		})
	}
}

// checkRefusal checks an error for a hostile file: present, naming the
// file, containing want, and short.
func checkRefusal(t *testing.T, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if len(msg) > len(path)+maxErrorLen+40 {
		t.Errorf("message of %d bytes: %.300s", len(msg), msg)
	}
	if !strings.HasPrefix(msg, "checkpoint: "+path+": ") || !strings.Contains(msg, want) {
		t.Errorf("error %.500q, want the file name and %q", msg, want)
	}
}

// TestDecodeLong: LONG1/LONG4 two's complement, any length, linear time.
func TestDecodeLong(t *testing.T) {
	cases := []struct {
		b    []byte
		want any
	}{
		{nil, 0},
		{[]byte{0xff}, -1},
		{[]byte{0x80}, -128},
		{[]byte{0xff, 0x00}, 255},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 1}, 1 << 56},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 1<<63 - 1},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, -1 << 63},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 0}, pyBigInt{}}, // 2^63
		{[]byte{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 5},       // redundant sign bytes
		{[]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -2},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0, 1}, pyBigInt{}},
	}
	for _, c := range cases {
		if got := decodeLong(c.b); got != c.want {
			t.Errorf("decodeLong(% x) = %v, want %v", c.b, got, c.want)
		}
	}
}

// bigHeader is an io.ReaderAt of a safetensors file whose header declares n
// bytes, of which it serves only the first: nothing past it may be read.
type bigHeader struct{ n uint64 }

func (h bigHeader) ReadAt(p []byte, off int64) (int, error) {
	var head [9]byte
	binary.LittleEndian.PutUint64(head[:], h.n)
	head[8] = '{'
	if off >= int64(len(head)) {
		return 0, fmt.Errorf("read at %d: the header was read", off)
	}
	n := copy(p, head[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestHostileSafetensors: item 5 of issue 12 for safetensors: a big header
// is refused before it is read, as are too many tensors and too many
// dimensions.
func TestHostileSafetensors(t *testing.T) {
	for _, n := range []uint64{maxHeaderRead + 1, 99_000_000} {
		var err error
		alloc := allocated(func() { _, _, err = Decode(bigHeader{n}, int64(n)+8) })
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("header length %d exceeds the %d-byte limit of this reader", n, maxHeaderRead)) {
			t.Errorf("header of %d bytes: %v", n, err)
		}
		if alloc > 1<<16 {
			t.Errorf("header of %d bytes: allocated %d bytes to refuse it", n, alloc)
		}
	}
	var h strings.Builder
	h.WriteByte('{')
	for i := range maxTensors + 1 {
		if i > 0 {
			h.WriteByte(',')
		}
		fmt.Fprintf(&h, `"%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	h.WriteByte('}')
	rank := `{"w":{"dtype":"F32","shape":[` + strings.Repeat("1,", 1000) + `1],"data_offsets":[0,4]}}`
	offsets := `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,0,4]}}`
	long := `{"w":{"dtype":"F32","shape":[1],"data_offsets":[` + strings.Repeat("0,", 100000) + `4]}}`
	for _, c := range []struct {
		name, header, want string
	}{
		{"too many tensors", h.String(), "header has more than the limit of 16384 tensors"},
		{"rank 1001", rank, `tensor "w": 1001 dimensions, more than the limit of 16`},
		{"3 offsets", offsets, `tensor "w": data_offsets must be [begin, end], got 3 values`},
		{"100001 offsets", long, `tensor "w": header entry of 200046 bytes, more than the limit of 4096`},
		{"long name", `{"` + strings.Repeat("x", 1<<20) + `":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, `shape [1] of F32 needs 4 bytes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "w.safetensors", stFile(c.header, make([]byte, 8)))
			var err error
			alloc := allocated(func() { _, err = Load(path) })
			checkRefusal(t, err, path, c.want)
			t.Logf("allocated %d KB", alloc>>10)
			if limit := 20*uint64(len(c.header)) + 1<<16; alloc > limit {
				t.Errorf("allocated %d KB for a %d KB header", alloc>>10, len(c.header)>>10)
			}
		})
	}
}

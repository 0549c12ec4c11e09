// Package npy reads NumPy .npy files (format versions 1-3, little-endian
// float32, float64 and int64, C order), as written by numpy.save. It exists
// for the golden-tensor tests; it depends on nothing else in the module.
package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Array is a decoded .npy array. Data always holds float64 values, whatever
// the stored dtype was (Dtype keeps the stored one, e.g. "<f4").
type Array struct {
	Shape []int
	Dtype string
	Data  []float64
}

// Len is the number of elements implied by Shape.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Float32 returns the data converted to float32.
func (a *Array) Float32() []float32 {
	out := make([]float32, len(a.Data))
	for i, v := range a.Data {
		out[i] = float32(v)
	}
	return out
}

var (
	reDescr   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// ReadFile reads a .npy file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("npy %s: %w", path, err)
	}
	return a, nil
}

// Read decodes one .npy array from r.
func Read(r io.Reader) (*Array, error) {
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, err
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (bad magic)")
	}
	var hlen int
	switch magic[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("unsupported .npy version %d", magic[6])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("header of %d bytes is too large", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	h := string(hdr)
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return nil, errors.New("header has no descr")
	}
	a := &Array{Dtype: m[1]}
	if m := reFortran.FindStringSubmatch(h); m != nil && m[1] == "True" {
		return nil, errors.New("fortran-order arrays are not supported")
	}
	m = reShape.FindStringSubmatch(h)
	if m == nil {
		return nil, errors.New("header has no shape")
	}
	for _, s := range strings.Split(m[1], ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad shape %q", m[1])
		}
		a.Shape = append(a.Shape, d)
	}
	n := a.Len()
	var size int
	switch a.Dtype {
	case "<f4":
		size = 4
	case "<f8", "<i8":
		size = 8
	default:
		return nil, fmt.Errorf("unsupported dtype %q", a.Dtype)
	}
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	a.Data = make([]float64, n)
	for i := range a.Data {
		switch a.Dtype {
		case "<f4":
			a.Data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		case "<f8":
			a.Data[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		case "<i8":
			a.Data[i] = float64(int64(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	}
	return a, nil
}

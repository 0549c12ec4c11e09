package training

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/grformer/grformer/internal/atomicfile"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/resize"
)

// trainExts are the file types a training folder is scanned for.
var trainExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".bmp": true, ".webp": true, ".tif": true, ".tiff": true}

// Pair is one training image: the HR image cropped to a multiple of the
// scale and its LR counterpart, both 8-bit RGB planar.
type Pair struct {
	Path string
	HR   *resize.Planar8
	LR   *resize.Planar8
}

// Dataset is a set of training pairs held in memory.
type Dataset struct {
	Scale int
	Pairs []Pair
	// Skipped lists the images that were left out (too small for the
	// patch), with the reason.
	Skipped []string
}

// DataOptions control LoadDataset.
type DataOptions struct {
	// Patch is the LR patch side; images whose LR is smaller in either
	// dimension are skipped (reported in Dataset.Skipped and by Warn).
	Patch int
	// CacheDir, when not empty, keeps the LR images made from each HR
	// file there, keyed by the SHA-256 of the HR file's bytes and the
	// scale, so that later runs skip the bicubic downscale.
	CacheDir string
	// Threads is the number of goroutines decoding images (0: GOMAXPROCS).
	Threads int
	// Warn, when not nil, receives one message per skipped image.
	Warn func(msg string)
	// Progress, when not nil, is called after each image with the number
	// done and the total.
	Progress func(done, total int)
}

// Fingerprint identifies the dataset's content: a CRC-64 of every pair's
// file name (not its folder), size and HR pixels, in order. A resumed run
// compares it with the run's to warn when the images changed.
func (ds *Dataset) Fingerprint() string {
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	var b [8]byte
	for _, p := range ds.Pairs {
		io.WriteString(h, filepath.Base(p.Path))
		binary.LittleEndian.PutUint32(b[:], uint32(p.HR.W))
		binary.LittleEndian.PutUint32(b[4:], uint32(p.HR.H))
		h.Write(b[:])
		h.Write(p.HR.Pix)
	}
	return fmt.Sprintf("%d:%016x", len(ds.Pairs), h.Sum64())
}

// ListTrainImages returns the image files of the given folders (not
// recursive; hidden files skipped), each folder's files sorted by name,
// folders in the given order. A missing folder or one without images is an
// error.
func ListTrainImages(dirs []string) ([]string, error) {
	if len(dirs) == 0 {
		return nil, errors.New("training: no training data folder given")
	}
	var out []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("training: training data folder %s does not exist", d)
			}
			return nil, fmt.Errorf("training: training data folder: %w", err)
		}
		n := len(out)
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") || !trainExts[strings.ToLower(filepath.Ext(name))] {
				continue
			}
			out = append(out, filepath.Join(d, name))
		}
		if len(out) == n {
			return nil, fmt.Errorf("training: no images (png, jpg, bmp, webp, tif) in training data folder %s", d)
		}
		slices.Sort(out[n:])
	}
	return out, nil
}

// LoadDataset reads every image of dirs (see ListTrainImages), converts it
// to 8-bit RGB (gray images replicated to three channels, alpha dropped,
// 16-bit samples rounded), crops it to a multiple of scale (top-left part
// kept) and makes its LR image with MATLAB's bicubic (resize.Resize8 by
// 1/scale, what resize.Downscale does). Images too small for the patch are
// skipped with a warning; an unreadable image is an error naming it.
func LoadDataset(ctx context.Context, dirs []string, scale int, opt DataOptions) (*Dataset, error) {
	if scale < 1 {
		return nil, fmt.Errorf("training: invalid scale %d", scale)
	}
	if opt.Patch < 1 {
		return nil, fmt.Errorf("training: invalid patch size %d", opt.Patch)
	}
	files, err := ListTrainImages(dirs)
	if err != nil {
		return nil, err
	}
	if opt.CacheDir != "" {
		if err := os.MkdirAll(opt.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("training: cache folder: %w", err)
		}
	}
	pairs := make([]Pair, len(files))
	errs := make([]error, len(files))
	th := opt.Threads
	if th <= 0 {
		th = runtime.GOMAXPROCS(0)
	}
	var mu sync.Mutex
	done := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(th, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pairs[i], errs[i] = loadPair(files[i], scale, opt.CacheDir)
				if opt.Progress != nil {
					mu.Lock()
					done++
					opt.Progress(done, len(files))
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := &Dataset{Scale: scale}
	for i, p := range pairs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if p.LR.W < opt.Patch || p.LR.H < opt.Patch {
			msg := fmt.Sprintf("skipping %s: %dx%d, smaller than the %dx%d HR patch (LR %dx%d < %d)",
				p.Path, p.HR.W, p.HR.H, opt.Patch*scale, opt.Patch*scale, p.LR.W, p.LR.H, opt.Patch)
			ds.Skipped = append(ds.Skipped, msg)
			if opt.Warn != nil {
				opt.Warn(msg)
			}
			continue
		}
		ds.Pairs = append(ds.Pairs, p)
	}
	if len(ds.Pairs) == 0 {
		return nil, fmt.Errorf("training: none of the %d training images is at least %dx%d pixels (patch %d at x%d)",
			len(files), opt.Patch*scale, opt.Patch*scale, opt.Patch, scale)
	}
	return ds, nil
}

// loadPair decodes one HR file and makes its LR image (or reads it from the
// cache).
func loadPair(path string, scale int, cacheDir string) (Pair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Pair{}, fmt.Errorf("training: %w", err)
	}
	img, err := imageio.Decode(bytes.NewReader(data), imageio.DecodeOptions{})
	if err != nil {
		return Pair{}, fmt.Errorf("training: training image %s: %w", path, err)
	}
	hr := RGB8(img)
	w, h := hr.W/scale*scale, hr.H/scale*scale
	if w == 0 || h == 0 {
		return Pair{Path: path, HR: hr, LR: resize.NewPlanar8(0, 0, 3)}, nil
	}
	if w != hr.W || h != hr.H {
		if hr, err = hr.Crop(0, 0, w, h); err != nil {
			return Pair{}, err
		}
	}
	var cachePath string
	if cacheDir != "" {
		sum := sha256.Sum256(data)
		cachePath = filepath.Join(cacheDir, fmt.Sprintf("%s_x%d.lr", hex.EncodeToString(sum[:16]), scale))
		if lr, err := readCachedLR(cachePath, w/scale, h/scale); err == nil {
			return Pair{Path: path, HR: hr, LR: lr}, nil
		}
	}
	lr, err := MakeLR(hr, scale)
	if err != nil {
		return Pair{}, fmt.Errorf("training: %s: %w", path, err)
	}
	if cachePath != "" {
		// A cache that cannot be written only costs time.
		_ = writeCachedLR(cachePath, lr)
	}
	return Pair{Path: path, HR: hr, LR: lr}, nil
}

// MakeLR downscales hr (whose sides must be multiples of scale) by scale
// with MATLAB's bicubic on 8-bit data, as resize.Downscale does.
func MakeLR(hr *resize.Planar8, scale int) (*resize.Planar8, error) {
	if scale < 1 || hr.W%scale != 0 || hr.H%scale != 0 {
		return nil, fmt.Errorf("training: %dx%d image is not a multiple of the scale %d", hr.W, hr.H, scale)
	}
	if scale == 1 {
		return &resize.Planar8{W: hr.W, H: hr.H, C: hr.C, Pix: slices.Clone(hr.Pix)}, nil
	}
	lr, err := resize.Resize8(hr, 1/float64(scale))
	if err != nil {
		return nil, err
	}
	if lr.W != hr.W/scale || lr.H != hr.H/scale {
		return nil, fmt.Errorf("training: bicubic downscale of %dx%d by %d gave %dx%d", hr.W, hr.H, scale, lr.W, lr.H)
	}
	return lr, nil
}

// RGB8 converts a decoded image to 8-bit RGB planes: gray is replicated to
// R = G = B, alpha is dropped, values are rounded to the nearest level
// (exact for 8-bit sources).
func RGB8(img *imageio.Image) *resize.Planar8 {
	n := img.W * img.H
	p := resize.NewPlanar8(img.W, img.H, 3)
	for c := range 3 {
		src := img.Pix[:n]
		if !img.Gray {
			src = img.Pix[c*n : (c+1)*n]
		}
		dst := p.Pix[c*n : (c+1)*n]
		for i, v := range src {
			dst[i] = quant8(v)
		}
	}
	return p
}

// quant8 rounds a [0, 1] sample to 8 bits as imageio does.
func quant8(x float32) uint8 {
	if !(x > 0) {
		return 0
	}
	if x >= 1 {
		return 255
	}
	return uint8(float64(x)*255 + 0.5)
}

// The LR cache format: "GRFLR1\n\x00", width and height (uint32 LE), then
// the 3 planes.
const cacheMagic = "GRFLR1\n\x00"

func readCachedLR(path string, w, h int) (*resize.Planar8, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != len(cacheMagic)+8+3*w*h || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, errors.New("bad cache file")
	}
	b = b[len(cacheMagic):]
	if int(binary.LittleEndian.Uint32(b)) != w || int(binary.LittleEndian.Uint32(b[4:])) != h {
		return nil, errors.New("bad cache file size")
	}
	return &resize.Planar8{W: w, H: h, C: 3, Pix: b[8:]}, nil
}

func writeCachedLR(path string, lr *resize.Planar8) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(lr.W))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(lr.H))
		if _, err := io.WriteString(w, cacheMagic); err != nil {
			return err
		}
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		_, err := w.Write(lr.Pix)
		return err
	})
}

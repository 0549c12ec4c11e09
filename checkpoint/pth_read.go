package checkpoint

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadPTH reads a PyTorch zip-format checkpoint (torch.save since PyTorch
// 1.6) of the given size. The state dict is chosen as Load documents; use
// DecodePTH to learn which entry was used.
func ReadPTH(r io.ReaderAt, size int64) (StateDict, error) {
	sd, _, err := DecodePTH(r, size)
	return sd, err
}

// DecodePTH is ReadPTH that also reports what it read (LoadInfo.Source says
// whether "params_ema", "params" or the top-level mapping was used).
func DecodePTH(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	sd, info, err := decodePTH(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: pth: %w", bound(err))
	}
	return sd, info, nil
}

// decodePTH is DecodePTH without the error prefix.
func decodePTH(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	if size <= 0 {
		return nil, nil, errors.New("empty file")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// Entry names are only looked up, never used as paths, so an
		// "insecure" name is harmless here.
		return nil, nil, fmt.Errorf("truncated or corrupt zip: %w", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	var pkls []*zip.File
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, nil, fmt.Errorf("zip holds %s twice", quote(f.Name))
		}
		files[f.Name] = f
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			pkls = append(pkls, f)
		}
	}
	switch len(pkls) {
	case 0:
		return nil, nil, errors.New("zip has no <archive>/data.pkl: not a PyTorch checkpoint")
	case 1:
	default:
		return nil, nil, fmt.Errorf("zip has %d data.pkl entries (%s, %s, ...)", len(pkls), short(pkls[0].Name), short(pkls[1].Name))
	}
	prefix := strings.TrimSuffix(pkls[0].Name, "data.pkl")
	if bo, ok := files[prefix+"byteorder"]; ok {
		b, err := readZipEntry(bo, 64, size)
		if err != nil {
			return nil, nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, nil, fmt.Errorf("byteorder %s: only little-endian checkpoints are supported", quote(s))
		}
	}
	pkl, err := readZipEntry(pkls[0], maxPickleBytes, size)
	if err != nil {
		return nil, nil, err
	}
	entries, info, err := unpickleStateDict(pkl)
	if err != nil {
		return nil, nil, err
	}
	sd, err := materialize(entries, &zipStorages{files: files, prefix: prefix, size: size}, size)
	if err != nil {
		return nil, nil, err
	}
	return sd, info, nil
}

// readZipEntry reads one whole zip entry of at most limit bytes, checking the
// declared sizes against the file before allocating and the CRC after.
func readZipEntry(f *zip.File, limit, fileSize int64) ([]byte, error) {
	n := f.UncompressedSize64
	if n > uint64(limit) {
		return nil, fmt.Errorf("zip entry %s is %d bytes, more than the %d expected", short(f.Name), n, limit)
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != n {
			return nil, fmt.Errorf("zip entry %s: stored size %d differs from its size %d", short(f.Name), f.CompressedSize64, n)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("zip entry %s: %w (truncated zip?)", short(f.Name), err)
		}
		if off < 0 || uint64(off)+n > uint64(fileSize) {
			return nil, fmt.Errorf("zip entry %s runs past the end of the file: truncated zip", short(f.Name))
		}
	case zip.Deflate:
		if f.CompressedSize64 > uint64(fileSize) {
			return nil, fmt.Errorf("zip entry %s runs past the end of the file: truncated zip", short(f.Name))
		}
		if n > f.CompressedSize64*1100+1024 {
			return nil, fmt.Errorf("zip entry %s claims an implausible compression ratio (%d -> %d bytes)", short(f.Name), f.CompressedSize64, n)
		}
	default:
		return nil, fmt.Errorf("zip entry %s uses unsupported compression method %d", short(f.Name), f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", short(f.Name), err)
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("zip entry %s is shorter than declared: truncated zip", short(f.Name))
		}
		return nil, fmt.Errorf("zip entry %s: %w", short(f.Name), err)
	}
	// Read to EOF so that the zip reader verifies the CRC-32.
	var one [1]byte
	for range 16 {
		k, err := rc.Read(one[:])
		if k > 0 {
			return nil, fmt.Errorf("zip entry %s is longer than declared", short(f.Name))
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("zip entry %s: %w", short(f.Name), err)
		}
	}
	return nil, fmt.Errorf("zip entry %s: reader makes no progress", short(f.Name))
}

// storageSource supplies the bytes of the storages a pickle refers to.
type storageSource interface {
	// check verifies, without reading, that storage key holds nbytes bytes.
	check(key string, nbytes int64) error
	// read returns the nbytes bytes of storage key.
	read(key string, nbytes int64) ([]byte, error)
}

// zipStorages reads storages from the <archive>/data/<key> entries.
type zipStorages struct {
	files  map[string]*zip.File
	prefix string
	size   int64
}

func (z *zipStorages) entry(key string, nbytes int64) (*zip.File, error) {
	f, ok := z.files[z.prefix+"data/"+key]
	if !ok {
		return nil, fmt.Errorf("storage %s: zip has no entry %s", quote(key), short(z.prefix+"data/"+key))
	}
	if f.Method != zip.Store {
		// torch.save never compresses storages; a compressed one could
		// inflate to far more than the file (a zip bomb).
		return nil, fmt.Errorf("storage %s: zip entry %s is compressed (method %d): PyTorch stores tensor data uncompressed, and this reader accepts nothing else (re-save the file with torch.save)", quote(key), short(f.Name), f.Method)
	}
	if f.UncompressedSize64 != uint64(nbytes) {
		return nil, fmt.Errorf("storage %s: zip entry %s is %d bytes, the pickle declares %d", quote(key), short(f.Name), f.UncompressedSize64, nbytes)
	}
	return f, nil
}

func (z *zipStorages) check(key string, nbytes int64) error {
	_, err := z.entry(key, nbytes)
	return err
}

func (z *zipStorages) read(key string, nbytes int64) ([]byte, error) {
	f, err := z.entry(key, nbytes)
	if err != nil {
		return nil, err
	}
	return readZipEntry(f, nbytes, z.size)
}

// storageRef is a storage named by a persistent id in the pickle.
type storageRef struct {
	key   string
	dtype DType
	numel int
}

// tensorRef is a tensor rebuilt by the pickle: a view of a storage.
type tensorRef struct {
	storage *storageRef
	offset  int
	shape   []int
	stride  []int
}

// namedRef is one entry of the selected state dict.
type namedRef struct {
	name string
	ref  *tensorRef
}

// storageClass stands for an allowed torch.*Storage global.
type storageClass struct {
	name  string
	dtype DType
}

// rebuildFunc stands for an allowed torch._utils._rebuild_* function.
type rebuildFunc struct {
	kind globalKind
	name string
}

// persistentLoad resolves torch's persistent ids,
// ('storage', storage_type, key, location, numel), to storage references.
func (d *decoder) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("unsupported persistent id %s (want a 5-tuple ('storage', type, key, location, numel))", describe(pid))
	}
	if s, ok := t[0].(string); !ok || s != "storage" {
		return nil, fmt.Errorf("unsupported persistent id of kind %s", describe(t[0]))
	}
	sc, ok := t[1].(*storageClass)
	if !ok {
		return nil, fmt.Errorf("persistent id: storage type is %s, not a torch storage class", describe(t[1]))
	}
	key, ok := t[2].(string)
	if !ok || key == "" {
		return nil, fmt.Errorf("persistent id: storage key is %s, not a non-empty string", describe(t[2]))
	}
	if _, ok := t[3].(string); !ok {
		return nil, fmt.Errorf("persistent id: storage %s location is %s, not a string", quote(key), describe(t[3]))
	}
	numel, err := toInt(t[4])
	if err != nil || numel < 0 || numel > maxElements {
		return nil, fmt.Errorf("persistent id: storage %s has an invalid size %s", quote(key), describe(t[4]))
	}
	if s, ok := d.storages[key]; ok {
		if s.dtype != sc.dtype || s.numel != numel {
			return nil, fmt.Errorf("storage %s is declared twice with different types or sizes", quote(key))
		}
		return s, nil
	}
	s := &storageRef{key: key, dtype: sc.dtype, numel: numel}
	d.storages[key] = s
	return s, nil
}

// call applies an allowed rebuild function to its arguments.
func (f *rebuildFunc) call(args pyTuple) (any, error) {
	switch f.kind {
	case gRebuildTensorV2, gRebuildTensor:
		// _rebuild_tensor_v2(storage, storage_offset, size, stride,
		// requires_grad, backward_hooks[, metadata]);
		// _rebuild_tensor(storage, storage_offset, size, stride).
		if f.kind == gRebuildTensorV2 && len(args) != 6 && len(args) != 7 ||
			f.kind == gRebuildTensor && len(args) != 4 {
			return nil, fmt.Errorf("%s called with %d arguments", f.name, len(args))
		}
		s, ok := args[0].(*storageRef)
		if !ok {
			return nil, fmt.Errorf("%s: first argument is %s, not a storage", f.name, describe(args[0]))
		}
		offset, err := toInt(args[1])
		if err != nil || offset < 0 || offset > maxElements {
			return nil, fmt.Errorf("%s: invalid storage offset %s", f.name, describe(args[1]))
		}
		shape, err := toIntTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("%s: size: %w", f.name, err)
		}
		stride, err := toIntTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("%s: stride: %w", f.name, err)
		}
		if len(shape) != len(stride) {
			return nil, fmt.Errorf("%s: size %v and stride %v differ in length", f.name, shape, stride)
		}
		for i := range shape {
			if shape[i] < 0 || shape[i] > maxElements || stride[i] < 0 || stride[i] > maxElements {
				return nil, fmt.Errorf("%s: invalid size %v or stride %v", f.name, shape, stride)
			}
		}
		return &tensorRef{storage: s, offset: offset, shape: shape, stride: stride}, nil
	case gRebuildParameter, gRebuildParameterWithState:
		// _rebuild_parameter(data, requires_grad, backward_hooks);
		// _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state).
		if f.kind == gRebuildParameter && len(args) != 3 ||
			f.kind == gRebuildParameterWithState && len(args) != 4 {
			return nil, fmt.Errorf("%s called with %d arguments", f.name, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s: data is %s, not a tensor", f.name, describe(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s is not callable", f.name)
}

// toInt converts a pickled integer to int.
func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case pyBigInt:
		return 0, errors.New("integer out of range")
	}
	return 0, fmt.Errorf("%s is not an integer", describe(v))
}

// toIntTuple converts a pickled tuple of integers.
func toIntTuple(v any) ([]int, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is not a tuple", describe(v))
	}
	if len(t) > maxRank {
		return nil, fmt.Errorf("%d dimensions, more than the limit of %d", len(t), maxRank)
	}
	out := make([]int, len(t))
	for i := range out {
		n, err := toInt(t[i])
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// describe names the Python type of an unpickled value, for errors.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "a bool"
	case int:
		return fmt.Sprintf("the int %d", x)
	case pyBigInt:
		return "an int beyond 64 bits"
	case float64:
		return "a float"
	case string:
		return "the str " + quote(x)
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "a tuple"
	case *pyList:
		return "a list"
	case *pyDict:
		if x.ordered {
			return "an OrderedDict"
		}
		return "a dict"
	case orderedDictClass:
		return "collections.OrderedDict"
	case *tensorRef:
		return "a tensor"
	case *storageRef:
		return "a storage"
	case *storageClass:
		return "torch." + x.name
	case *rebuildFunc:
		return x.name
	}
	return fmt.Sprintf("a %T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// short cuts a zip entry name for an error message.
func short(s string) string { return truncate(s, 80) }

// quote quotes a name or value from a file for an error message, cut to
// a length that keeps the message short whatever the file holds.
func quote(s string) string {
	if len(s) <= 80 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:80]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// dictItems lists the entries of a dict or OrderedDict in insertion order.
func dictItems(v any) ([]item, bool) {
	d, ok := v.(*pyDict)
	if !ok {
		return nil, false
	}
	return d.items, true
}

// unpickleStateDict runs the restricted unpickler on data.pkl and selects the
// state dict: "params_ema" if the top-level dict has it, else "params", else
// the top-level dict itself if it maps names to tensors.
func unpickleStateDict(pkl []byte) (entries []namedRef, info *LoadInfo, err error) {
	obj, err := decodePickle(pkl)
	if err != nil {
		return nil, nil, err
	}
	top, ok := dictItems(obj)
	if !ok {
		return nil, nil, fmt.Errorf("the pickled object is %s, not a dict", describe(obj))
	}
	info = &LoadInfo{Format: FormatPTH}
	for _, it := range top {
		if s, ok := it.key.(string); ok {
			info.TopKeys = append(info.TopKeys, s)
		}
	}
	selected := top
	info.Source = SourceStateDict
	for _, name := range []string{SourceParamsEMA, SourceParams} {
		if v, found := lookup(top, name); found {
			selected, ok = dictItems(v)
			if !ok {
				return nil, nil, fmt.Errorf("entry %s is %s, not a dict of tensors", quote(name), describe(v))
			}
			info.Source = name
			break
		}
	}
	if len(selected) > maxTensors {
		return nil, nil, fmt.Errorf("%s: %d entries, more than the limit of %d tensors", info.Source, len(selected), maxTensors)
	}
	for _, it := range selected {
		name, ok := it.key.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%s: key %s is not a string", info.Source, describe(it.key))
		}
		t, ok := it.value.(*tensorRef)
		if !ok {
			if info.Source == SourceStateDict {
				return nil, nil, fmt.Errorf("no %q or %q entry, and the top-level dict is not a state dict: entry %s is %s (top-level keys: %s)",
					SourceParamsEMA, SourceParams, quote(name), describe(it.value), strings.Join(firstN(info.TopKeys, 8), ", "))
			}
			return nil, nil, fmt.Errorf("%s: entry %s is %s, not a tensor", info.Source, quote(name), describe(it.value))
		}
		entries = append(entries, namedRef{name: name, ref: t})
		info.Keys = append(info.Keys, name)
	}
	return entries, info, nil
}

// firstN lists the first n strings, each cut to a length fit for a message.
func firstN(s []string, n int) []string {
	out := make([]string, 0, n+1)
	for i, x := range s {
		if i == n {
			return append(out, "...")
		}
		out = append(out, truncate(x, 40))
	}
	return out
}

// lookup finds a string key in dict items.
func lookup(items []item, key string) (interface{}, bool) {
	for _, it := range items {
		if s, ok := it.key.(string); ok && s == key {
			return it.value, true
		}
	}
	return nil, false
}

// materialize checks every view against its storage, then gathers the
// values of each tensor into a contiguous Tensor. fileSize bounds the total
// number of elements (views may share or broadcast storages, but not beyond
// a small multiple of what the file holds).
func materialize(entries []namedRef, src storageSource, fileSize int64) (StateDict, error) {
	users := make(map[*storageRef]int)
	var storageElems int64
	for _, e := range entries {
		s := e.ref.storage
		if users[s] == 0 {
			if err := src.check(s.key, int64(s.numel)*int64(s.dtype.Size())); err != nil {
				return nil, fmt.Errorf("tensor %s: %w", quote(e.name), err)
			}
			storageElems += int64(s.numel)
		}
		users[s]++
	}
	budget := 4*fileSize + storageElems + 1<<20
	var total int64
	for _, e := range entries {
		r := e.ref
		numel, ok := shapeNumel(r.shape)
		if !ok {
			return nil, fmt.Errorf("tensor %s: invalid shape %v", quote(e.name), r.shape)
		}
		if numel > 0 {
			last := r.offset
			for d := range r.shape {
				if r.stride[d] > 0 && r.shape[d]-1 > (maxElements-last)/r.stride[d] {
					last = maxElements
					break
				}
				last += (r.shape[d] - 1) * r.stride[d]
			}
			if last >= r.storage.numel {
				return nil, fmt.Errorf("tensor %s: view (offset %d, shape %v, stride %v) goes past the end of its %d-element storage %s",
					quote(e.name), r.offset, r.shape, r.stride, r.storage.numel, quote(r.storage.key))
			}
		}
		total += int64(numel)
		if total > budget {
			return nil, fmt.Errorf("tensor %s: the views add up to more than %d elements, far more than the file holds", quote(e.name), budget)
		}
	}
	cache := make(map[*storageRef][]byte)
	sd := make(StateDict, len(entries))
	for _, e := range entries {
		s := e.ref.storage
		data, ok := cache[s]
		if !ok {
			var err error
			data, err = src.read(s.key, int64(s.numel)*int64(s.dtype.Size()))
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", quote(e.name), err)
			}
			cache[s] = data
		}
		t, err := gather(e.ref, data)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", quote(e.name), err)
		}
		sd[e.name] = t
		if users[s]--; users[s] == 0 {
			delete(cache, s)
		}
	}
	return sd, nil
}

// gather copies the elements of a (checked) view of data into a new
// contiguous tensor.
func gather(r *tensorRef, data []byte) (*Tensor, error) {
	dt := r.storage.dtype
	esz := dt.Size()
	numel, _ := shapeNumel(r.shape)
	t := allocTensor(dt, append([]int(nil), r.shape...), numel)
	if numel == 0 {
		return t, nil
	}
	nd := len(r.shape)
	// Contiguous (C order) views are one run; dimensions of size 1 have
	// arbitrary strides.
	contiguous := true
	want := 1
	for d := nd - 1; d >= 0; d-- {
		if r.shape[d] != 1 && r.stride[d] != want {
			contiguous = false
			break
		}
		want *= r.shape[d]
	}
	ok := true
	if contiguous {
		ok = decodeRun(t, 0, data[r.offset*esz:(r.offset+numel)*esz], dt)
	} else {
		// Runs along the last dimension when it is unit-stride, else
		// single elements; an odometer walks the outer dimensions.
		run, outer := 1, nd
		if r.stride[nd-1] == 1 {
			run, outer = r.shape[nd-1], nd-1
		}
		idx := make([]int, outer)
		for dst := 0; dst < numel; dst += run {
			src := r.offset
			for d := range outer {
				src += idx[d] * r.stride[d]
			}
			ok = ok && decodeRun(t, dst, data[src*esz:(src+run)*esz], dt)
			for d := outer - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < r.shape[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
	if !ok {
		return nil, errors.New("U64 value does not fit an int64")
	}
	return t, nil
}

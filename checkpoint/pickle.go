package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// DisallowedGlobalError reports a pickle that references a global (a Python
// class or function) outside the allowlist. Such a global is never looked
// up, let alone called.
type DisallowedGlobalError struct {
	Module, Name string
}

func (e *DisallowedGlobalError) Error() string {
	return fmt.Sprintf("pickle global %s is not allowed (a state dict needs only tensors, storages and OrderedDict)", quote(e.Module+"."+e.Name))
}

// globalKind says what an allowed global stands for.
type globalKind int

const (
	gOrderedDict globalKind = iota + 1
	gRebuildTensorV2
	gRebuildTensor
	gRebuildParameter
	gRebuildParameterWithState
	gStorage
)

// storageDTypes maps the torch storage classes a state dict may use to the
// dtype of their elements.
var storageDTypes = map[string]DType{
	"FloatStorage":    F32,
	"DoubleStorage":   F64,
	"HalfStorage":     F16,
	"BFloat16Storage": BF16,
	"LongStorage":     I64,
	"IntStorage":      I32,
	"ShortStorage":    I16,
	"CharStorage":     I8,
	"ByteStorage":     U8,
	"BoolStorage":     Bool,
}

// lookupGlobal is the allowlist: the only globals a state-dict pickle may
// name. Everything else is refused with a DisallowedGlobalError.
func lookupGlobal(module, name string) (globalKind, DType, error) {
	switch module {
	case "collections":
		if name == "OrderedDict" {
			return gOrderedDict, "", nil
		}
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2":
			return gRebuildTensorV2, "", nil
		case "_rebuild_tensor":
			return gRebuildTensor, "", nil
		case "_rebuild_parameter":
			return gRebuildParameter, "", nil
		case "_rebuild_parameter_with_state":
			return gRebuildParameterWithState, "", nil
		}
	case "torch":
		if dt, ok := storageDTypes[name]; ok {
			return gStorage, dt, nil
		}
	}
	return 0, "", &DisallowedGlobalError{Module: module, Name: name}
}

// Limits of the pickle decoder. A real state dict needs about 200 bytes of
// pickle and 2 KB of decoding memory per tensor, so these admit a hundred
// times the tensors of any GRFormer model while keeping a hostile pickle to
// a few tens of megabytes and a fraction of a second.
const (
	maxPickleBytes  = 16 << 20 // data.pkl larger than this is refused
	maxPickleMemory = 48 << 20 // estimated bytes the decoded objects may take
	maxMarkDepth    = 10000    // nested MARKs (real state dicts use < 10)
	maxNumberLine   = 1024     // text INT/LONG/FLOAT arguments
)

// Values of the decoder besides nil, bool, int, float64 and string.
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict is a dict or OrderedDict with Python's semantics for string
	// keys (a repeated key keeps its first position and takes the last
	// value); other keys are kept in order as they come.
	pyDict struct {
		items   []item
		index   map[string]int
		ordered bool
	}
	pyBytes          struct{} // bytes: their content is never needed
	pyBigInt         struct{} // an integer beyond 64 bits
	orderedDictClass struct{}
)

// item is a key/value pair of a dict.
type item struct {
	key, value any
}

func (d *pyDict) set(k, v any) {
	if s, ok := k.(string); ok {
		if i, seen := d.index[s]; seen {
			d.items[i].value = v
			return
		}
		d.index[s] = len(d.items)
	}
	d.items = append(d.items, item{k, v})
}

// decoder is the restricted unpickler: a pickle virtual machine for the
// opcodes a state dict needs, over the whole data.pkl in memory. Every
// allocation it makes is charged to mem first, and nothing it does costs
// more than linear time in the pickle.
type decoder struct {
	p        []byte
	i        int   // next byte of p
	at       int   // offset of the current opcode
	op       byte  // current opcode
	stack    []any // the stack; marks[k] is the stack length at the k-th open MARK
	marks    []int
	memo     map[int]any
	mem      int64
	storages map[string]*storageRef
}

// Costs charged to the memory estimate, in bytes. Slices are charged their
// whole capacity each time they grow, so the estimate bounds the bytes
// allocated in total, not only those live at the end.
const (
	costOp   = 8  // every opcode, so that the estimate also bounds time
	costSlot = 16 // an interface value in a slice
	costObj  = 64 // a container or string besides its contents
	costKey  = 96 // a memo entry or a string key of a dict (map entries, grown)
)

var errStop = errors.New("STOP")

// decodePickle runs the restricted unpickler over a whole pickle and
// returns the object it builds.
func decodePickle(p []byte) (any, error) {
	if len(p) > maxPickleBytes {
		return nil, fmt.Errorf("data.pkl is %d bytes, more than the %d-byte limit", len(p), maxPickleBytes)
	}
	d := &decoder{p: p, memo: make(map[int]any), storages: make(map[string]*storageRef)}
	for d.i < len(p) {
		d.at, d.op = d.i, p[d.i]
		d.i++
		if err := d.charge(costOp); err != nil {
			return nil, err
		}
		if err := d.step(); err != nil {
			if err == errStop {
				return d.pop()
			}
			return nil, err
		}
	}
	return nil, errors.New("pickle ends without a STOP opcode (truncated?)")
}

// charge adds n bytes to the memory estimate.
func (d *decoder) charge(n int) error {
	d.mem += int64(n)
	if d.mem > maxPickleMemory {
		return fmt.Errorf("pickle would need more than the %d MiB limit of memory to decode (at offset %d)", maxPickleMemory>>20, d.at)
	}
	return nil
}

// malformed is the error for a pickle that is well-formed bytes but not a
// valid program.
func (d *decoder) malformed(format string, args ...any) error {
	return fmt.Errorf("malformed pickle: opcode %s at offset %d: %s", opName(d.op), d.at, fmt.Sprintf(format, args...))
}

// need returns the next n bytes, or an error if the pickle ends first.
func (d *decoder) need(n uint64) ([]byte, error) {
	if n > uint64(len(d.p)-d.i) {
		return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d needs %d bytes, only %d left (truncated or corrupt)", d.op, d.at, n, len(d.p)-d.i)
	}
	b := d.p[d.i : d.i+int(n)]
	d.i += int(n)
	return b, nil
}

// counted reads a little-endian length of size bytes, then that many bytes.
func (d *decoder) counted(size int) ([]byte, error) {
	b, err := d.need(uint64(size))
	if err != nil {
		return nil, err
	}
	var n uint64
	for k := size - 1; k >= 0; k-- {
		n = n<<8 | uint64(b[k])
	}
	if size == 4 && (d.op == 'T' || d.op == 0x8b) && n >= 1<<31 {
		return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d has a negative length", d.op, d.at)
	}
	return d.need(n)
}

// line reads a newline-terminated argument (without the newline).
func (d *decoder) line() ([]byte, error) {
	j := bytes.IndexByte(d.p[d.i:], '\n')
	if j < 0 {
		return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d: unterminated line argument (truncated?)", d.op, d.at)
	}
	b := d.p[d.i : d.i+j]
	d.i += j + 1
	return b, nil
}

// push pushes v, charging the stack's growth (checked by the next charge).
func (d *decoder) push(v any) {
	c := cap(d.stack)
	d.stack = append(d.stack, v)
	if cap(d.stack) != c {
		d.mem += int64(costSlot * cap(d.stack))
	}
}

// base is the stack length at the innermost open MARK: values below it
// belong to an outer frame.
func (d *decoder) base() int {
	if len(d.marks) == 0 {
		return 0
	}
	return d.marks[len(d.marks)-1]
}

func (d *decoder) pop() (any, error) {
	if len(d.stack) <= d.base() {
		return nil, d.malformed("stack underflow")
	}
	v := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	return v, nil
}

func (d *decoder) top() (any, error) {
	if len(d.stack) <= d.base() {
		return nil, d.malformed("stack underflow")
	}
	return d.stack[len(d.stack)-1], nil
}

// popMark removes the values pushed since the innermost MARK, and the mark.
// The returned slice is a copy, charged to the memory estimate.
func (d *decoder) popMark() ([]any, error) {
	if len(d.marks) == 0 {
		return nil, d.malformed("no MARK")
	}
	m := d.marks[len(d.marks)-1]
	d.marks = d.marks[:len(d.marks)-1]
	items := d.stack[m:]
	if err := d.charge(costObj + costSlot*len(items)); err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	copy(out, items)
	clear(items)
	d.stack = d.stack[:m]
	return out, nil
}

// str makes a string value of b, charging for it.
func (d *decoder) str(b []byte) error {
	if err := d.charge(costObj + len(b)); err != nil {
		return err
	}
	d.push(string(b))
	return nil
}

func (d *decoder) newDict(ordered bool) *pyDict {
	return &pyDict{index: make(map[string]int), ordered: ordered}
}

// setItems adds key/value pairs to the dict at the top of the stack.
func (d *decoder) setItems(kv []any) error {
	if len(kv)%2 != 0 {
		return d.malformed("odd number of items for a dict")
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	dict, ok := t.(*pyDict)
	if !ok {
		return d.malformed("%s is not a dict", describe(t))
	}
	c := cap(dict.items)
	for k := 0; k < len(kv); k += 2 {
		dict.set(kv[k], kv[k+1])
	}
	grown := 0
	if cap(dict.items) != c {
		grown = cap(dict.items)
	}
	return d.charge(costKey*len(kv)/2 + 2*costSlot*grown)
}

// memoIndex parses the decimal argument of GET and PUT.
func (d *decoder) memoIndex() (int, error) {
	b, err := d.line()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(b), 10, 31)
	if err != nil {
		return 0, d.malformed("bad memo index %s", quote(string(b)))
	}
	return int(n), nil
}

func (d *decoder) get(idx int) error {
	v, ok := d.memo[idx]
	if !ok {
		return d.malformed("memo entry %d was never stored", idx)
	}
	d.push(v)
	return nil
}

func (d *decoder) put(idx int) error {
	v, err := d.top()
	if err != nil {
		return err
	}
	if err := d.charge(costKey); err != nil {
		return err
	}
	d.memo[idx] = v
	return nil
}

// decodeLong decodes the little-endian two's-complement bytes of LONG1 and
// LONG4 in linear time; values beyond 64 bits become pyBigInt.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return 0
	}
	if len(b) > 8 {
		ext := byte(0)
		if b[7]&0x80 != 0 {
			ext = 0xff
		}
		for _, c := range b[8:] {
			if c != ext {
				return pyBigInt{}
			}
		}
		b = b[:8]
	}
	var u uint64
	for k := len(b) - 1; k >= 0; k-- {
		u = u<<8 | uint64(b[k])
	}
	if shift := 64 - 8*uint(len(b)); shift > 0 {
		return int(int64(u<<shift) >> shift) // sign-extend
	}
	return int(int64(u))
}

// step executes one opcode.
func (d *decoder) step() error {
	var b []byte
	var err error
	switch op := d.op; op {
	case '.': // STOP
		return errStop
	case 0x80: // PROTO
		if b, err = d.need(1); err == nil && b[0] > 5 {
			err = fmt.Errorf("unsupported pickle protocol %d", b[0])
		}
	case 0x95: // FRAME: frames only group opcodes; the whole pickle is in memory
		if b, err = d.need(8); err == nil {
			if n := binary.LittleEndian.Uint64(b); n > uint64(len(d.p)-d.i) {
				err = fmt.Errorf("pickle frame at offset %d declares %d bytes, only %d left (truncated?)", d.at, n, len(d.p)-d.i)
			}
		}

	// Stack and memo.
	case '(': // MARK
		if len(d.marks) >= maxMarkDepth {
			return fmt.Errorf("pickle nests MARKs deeper than %d", maxMarkDepth)
		}
		d.marks = append(d.marks, len(d.stack))
	case '0': // POP (of a value, or of a MARK when none is above it)
		if len(d.stack) > d.base() || len(d.marks) == 0 {
			_, err = d.pop()
		} else {
			_, err = d.popMark()
		}
	case '1': // POP_MARK
		_, err = d.popMark()
	case '2': // DUP
		var v any
		if v, err = d.top(); err == nil {
			d.push(v)
		}
	case 0x94: // MEMOIZE
		err = d.put(len(d.memo))
	case 'h': // BINGET
		if b, err = d.need(1); err == nil {
			err = d.get(int(b[0]))
		}
	case 'j': // LONG_BINGET
		if b, err = d.need(4); err == nil {
			err = d.get(int(binary.LittleEndian.Uint32(b)))
		}
	case 'g': // GET
		var idx int
		if idx, err = d.memoIndex(); err == nil {
			err = d.get(idx)
		}
	case 'q': // BINPUT
		if b, err = d.need(1); err == nil {
			err = d.put(int(b[0]))
		}
	case 'r': // LONG_BINPUT
		if b, err = d.need(4); err == nil {
			err = d.put(int(binary.LittleEndian.Uint32(b)))
		}
	case 'p': // PUT
		var idx int
		if idx, err = d.memoIndex(); err == nil {
			err = d.put(idx)
		}

	// Scalars.
	case 'N':
		d.push(nil)
	case 0x88:
		d.push(true)
	case 0x89:
		d.push(false)
	case 'J': // BININT
		if b, err = d.need(4); err == nil {
			d.push(int(int32(binary.LittleEndian.Uint32(b))))
		}
	case 'K': // BININT1
		if b, err = d.need(1); err == nil {
			d.push(int(b[0]))
		}
	case 'M': // BININT2
		if b, err = d.need(2); err == nil {
			d.push(int(binary.LittleEndian.Uint16(b)))
		}
	case 0x8a: // LONG1
		if b, err = d.counted(1); err == nil {
			d.push(decodeLong(b))
		}
	case 0x8b: // LONG4
		if b, err = d.counted(4); err == nil {
			d.push(decodeLong(b))
		}
	case 'G': // BINFLOAT
		if b, err = d.need(8); err == nil {
			d.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case 'I', 'L', 'F': // INT LONG FLOAT (text)
		if b, err = d.line(); err != nil {
			return err
		}
		if len(b) > maxNumberLine {
			return fmt.Errorf("pickle number at offset %d is %d characters long", d.at, len(b))
		}
		s := string(b)
		switch {
		case op == 'F':
			var f float64
			if f, err = strconv.ParseFloat(s, 64); err == nil {
				d.push(f)
			}
		case op == 'I' && (s == "00" || s == "01"):
			d.push(s == "01")
		default:
			if op == 'L' && len(s) > 1 && s[len(s)-1] == 'L' {
				s = s[:len(s)-1]
			}
			var n int64
			if n, err = strconv.ParseInt(s, 10, 64); err == nil {
				d.push(int(n))
			} else if errors.Is(err, strconv.ErrRange) {
				d.push(pyBigInt{})
				err = nil
			}
		}
		if err != nil {
			return d.malformed("bad number %s", quote(s))
		}

	// Strings and bytes.
	case 'S': // STRING (quoted)
		if b, err = d.line(); err == nil {
			if len(b) < 2 || b[0] != b[len(b)-1] || (b[0] != '\'' && b[0] != '"') {
				return d.malformed("STRING argument is not quoted")
			}
			err = d.str(b[1 : len(b)-1])
		}
	case 'V': // UNICODE
		if b, err = d.line(); err == nil {
			err = d.str(b)
		}
	case 'U', 0x8c: // SHORT_BINSTRING SHORT_BINUNICODE
		if b, err = d.counted(1); err == nil {
			err = d.str(b)
		}
	case 'T', 'X': // BINSTRING BINUNICODE
		if b, err = d.counted(4); err == nil {
			err = d.str(b)
		}
	case 0x8d: // BINUNICODE8
		if b, err = d.counted(8); err == nil {
			err = d.str(b)
		}
	case 'C', 'B', 0x8e: // SHORT_BINBYTES BINBYTES BINBYTES8
		size := 1
		if op == 'B' {
			size = 4
		} else if op == 0x8e {
			size = 8
		}
		if _, err = d.counted(size); err == nil {
			d.push(pyBytes{})
		}

	// Containers.
	case ')': // EMPTY_TUPLE
		d.push(pyTuple{})
	case 0x85, 0x86, 0x87: // TUPLE1 TUPLE2 TUPLE3
		n := int(op - 0x84)
		if len(d.stack)-n < d.base() {
			return d.malformed("stack underflow")
		}
		if err = d.charge(costObj + costSlot*n); err == nil {
			t := make(pyTuple, n)
			copy(t, d.stack[len(d.stack)-n:])
			d.stack = d.stack[:len(d.stack)-n]
			d.push(t)
		}
	case 't': // TUPLE
		var items []any
		if items, err = d.popMark(); err == nil {
			d.push(pyTuple(items))
		}
	case ']': // EMPTY_LIST
		if err = d.charge(costObj); err == nil {
			d.push(&pyList{})
		}
	case 'l': // LIST
		var items []any
		if items, err = d.popMark(); err == nil {
			d.push(&pyList{items: items})
		}
	case 'a', 'e': // APPEND APPENDS
		var items []any
		if op == 'a' {
			var v any
			if v, err = d.pop(); err != nil {
				return err
			}
			items = []any{v}
		} else if items, err = d.popMark(); err != nil {
			return err
		}
		var t any
		if t, err = d.top(); err == nil {
			l, ok := t.(*pyList)
			if !ok {
				return d.malformed("%s is not a list", describe(t))
			}
			c := cap(l.items)
			l.items = append(l.items, items...)
			if cap(l.items) != c {
				err = d.charge(costSlot * cap(l.items))
			}
		}
	case '}': // EMPTY_DICT
		if err = d.charge(costObj); err == nil {
			d.push(d.newDict(false))
		}
	case 'd': // DICT
		var kv []any
		if kv, err = d.popMark(); err == nil {
			if err = d.charge(costObj); err == nil {
				d.push(d.newDict(false))
				err = d.setItems(kv)
			}
		}
	case 's': // SETITEM
		if len(d.stack)-2 < d.base() {
			return d.malformed("stack underflow")
		}
		kv := []any{d.stack[len(d.stack)-2], d.stack[len(d.stack)-1]}
		d.stack = d.stack[:len(d.stack)-2]
		err = d.setItems(kv)
	case 'u': // SETITEMS
		var kv []any
		if kv, err = d.popMark(); err == nil {
			err = d.setItems(kv)
		}

	// Globals, calls and persistent ids.
	case 'c': // GLOBAL module\nname\n
		var module, name []byte
		if module, err = d.line(); err == nil {
			if name, err = d.line(); err == nil {
				err = d.global(string(module), string(name))
			}
		}
	case 0x93: // STACK_GLOBAL
		var name, module any
		if name, err = d.pop(); err != nil {
			return err
		}
		if module, err = d.pop(); err != nil {
			return err
		}
		ms, ok1 := module.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return d.malformed("STACK_GLOBAL needs two strings, got %s and %s", describe(module), describe(name))
		}
		err = d.global(ms, ns)
	case 'R': // REDUCE
		err = d.reduce()
	case 'b': // BUILD: only an OrderedDict's attributes (torch's _metadata), ignored
		var state, inst any
		if state, err = d.pop(); err != nil {
			return err
		}
		if inst, err = d.top(); err == nil {
			if dict, ok := inst.(*pyDict); !ok || !dict.ordered {
				return d.malformed("BUILD on %s (with %s) is not supported in a checkpoint", describe(inst), describe(state))
			}
		}
	case 'Q': // BINPERSID
		var pid, v any
		if pid, err = d.pop(); err == nil {
			if v, err = d.persistentLoad(pid); err == nil {
				d.push(v)
			}
		}

	// Refused: what a state dict never uses.
	case 'P':
		err = fmt.Errorf("pickle opcode PERSID (text persistent id) at offset %d is not allowed in a checkpoint", d.at)
	case 'i': // INST module\nname\n: name the global if it is not allowed
		var module, name []byte
		if module, err = d.line(); err == nil {
			if name, err = d.line(); err == nil {
				if _, _, err = lookupGlobal(string(module), string(name)); err == nil {
					err = fmt.Errorf("pickle opcode INST at offset %d is not allowed: a state dict never instantiates classes", d.at)
				}
			}
		}
	case 'o', 0x81, 0x92:
		err = fmt.Errorf("pickle opcode %s at offset %d is not allowed: a state dict never instantiates classes", opName(op), d.at)
	case 0x82, 0x83, 0x84:
		err = fmt.Errorf("pickle extension-registry opcode at offset %d is not allowed", d.at)
	case 0x8f, 0x90, 0x91:
		err = fmt.Errorf("pickle set opcode 0x%02x at offset %d is not allowed: a state dict holds no sets", op, d.at)
	case 0x96, 0x97, 0x98:
		err = fmt.Errorf("pickle out-of-band buffer opcode at offset %d is not allowed", d.at)
	default:
		err = fmt.Errorf("unknown pickle opcode 0x%02x at offset %d (corrupt data.pkl?)", op, d.at)
	}
	return err
}

// global pushes an allowed global, refusing any other.
func (d *decoder) global(module, name string) error {
	kind, dt, err := lookupGlobal(module, name)
	if err != nil {
		return err
	}
	switch kind {
	case gOrderedDict:
		d.push(orderedDictClass{})
	case gStorage:
		d.push(&storageClass{name: name, dtype: dt})
	default:
		d.push(&rebuildFunc{kind: kind, name: module + "." + name})
	}
	return nil
}

// reduce applies a callable to an argument tuple: only OrderedDict() and
// the allowed rebuild functions are callable.
func (d *decoder) reduce() error {
	args, err := d.pop()
	if err != nil {
		return err
	}
	f, err := d.pop()
	if err != nil {
		return err
	}
	t, ok := args.(pyTuple)
	if !ok {
		return d.malformed("REDUCE arguments are %s, not a tuple", describe(args))
	}
	var v any
	switch fn := f.(type) {
	case orderedDictClass:
		if len(t) != 0 {
			return d.malformed("OrderedDict called with %d arguments", len(t))
		}
		if err := d.charge(costObj); err != nil {
			return err
		}
		v = d.newDict(true)
	case *rebuildFunc:
		if err := d.charge(4 * costObj); err != nil {
			return err
		}
		if v, err = fn.call(t); err != nil {
			return err
		}
	default:
		return d.malformed("REDUCE on %s, which is not callable", describe(f))
	}
	d.push(v)
	return nil
}

// opNames names the opcodes that appear in error messages.
var opNames = map[byte]string{
	'(': "MARK", '0': "POP", '1': "POP_MARK", '2': "DUP", 'N': "NONE", 'Q': "BINPERSID",
	'R': "REDUCE", 'a': "APPEND", 'b': "BUILD", 'd': "DICT", 'e': "APPENDS", 'g': "GET",
	'h': "BINGET", 'j': "LONG_BINGET", 'l': "LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT",
	'r': "LONG_BINPUT", 's': "SETITEM", 't': "TUPLE", 'u': "SETITEMS", 'I': "INT",
	'L': "LONG", 'F': "FLOAT", 'S': "STRING", 0x81: "NEWOBJ", 0x85: "TUPLE1",
	0x86: "TUPLE2", 0x87: "TUPLE3", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

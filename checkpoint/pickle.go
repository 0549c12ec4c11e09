package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// DisallowedGlobalError reports a pickle that references a global (a Python
// class or function) outside the allowlist. Such a global is never looked
// up, let alone called.
type DisallowedGlobalError struct {
	Module, Name string
}

func (e *DisallowedGlobalError) Error() string {
	return fmt.Sprintf("pickle global %q is not allowed (a state dict needs only tensors, storages and OrderedDict)", e.Module+"."+e.Name)
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

// Limits of the pickle pre-scan.
const (
	maxPickleBytes = 256 << 20 // data.pkl larger than this is refused
	maxMarkDepth   = 10000     // nested MARKs (real state dicts use < 10)
	maxPickleWork  = 1 << 30   // estimated bytes the unpickler may allocate
	maxNumberLine  = 1024      // text INT/LONG/FLOAT arguments
)

// scanVal is what the scanner knows about a stack value: a string literal
// (known) or anything else.
type scanVal struct {
	s     string
	known bool
}

// scanPickle walks the opcodes of a pickle once, before anything is
// unpickled, and refuses what the decoder must never see:
//   - a GLOBAL or STACK_GLOBAL naming anything outside the allowlist
//     (gopickle resolves a few globals itself without asking our FindClass
//     hook, so the hook alone is not enough), and a STACK_GLOBAL whose
//     operands are not string literals;
//   - opcodes a state dict never uses and that build arbitrary objects
//     (INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT*, PERSID, out-of-band buffers);
//   - length prefixes that run past the end of the pickle (the decoder would
//     allocate them before noticing), zero-length LONG1/LONG4 (it would
//     panic), over-deep MARK nesting, a missing STOP, and pickles whose
//     decoding would allocate much more memory than their size suggests.
//
// The STACK_GLOBAL check tracks the values pushed since the last opcode that
// could change the stack in a way the scanner does not model, and a copy of
// the memo keyed exactly as gopickle keys it; any doubt is a refusal.
func scanPickle(p []byte) error {
	if len(p) > maxPickleBytes {
		return fmt.Errorf("data.pkl is %d bytes, more than the %d-byte limit", len(p), maxPickleBytes)
	}
	var window []scanVal // values on top of the stack, pushed since the last reset
	memo := make(map[int]scanVal)
	depth := 0
	work := int64(0)
	i := 0
	// need returns the next n bytes or an error if the pickle ends first.
	need := func(op byte, at int, n uint64) ([]byte, error) {
		if n > uint64(len(p)-i) {
			return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d needs %d bytes, only %d left (truncated or corrupt)", op, at, n, len(p)-i)
		}
		b := p[i : i+int(n)]
		i += int(n)
		work += int64(n)
		return b, nil
	}
	line := func(op byte, at int) ([]byte, error) {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d: unterminated line argument (truncated?)", op, at)
		}
		b := p[i : i+j]
		i += j + 1
		work += int64(j)
		return b, nil
	}
	top := func() scanVal {
		if len(window) == 0 {
			return scanVal{}
		}
		return window[len(window)-1]
	}
	for i < len(p) {
		at := i
		op := p[i]
		i++
		work += opCost(op)
		if work > maxPickleWork {
			return fmt.Errorf("pickle would need too much memory to decode (at offset %d)", at)
		}
		reset := true
		var err error
		var b []byte
		switch op {
		// No argument.
		case '.': // STOP
			return nil
		case '(': // MARK
			depth++
			if depth > maxMarkDepth {
				return fmt.Errorf("pickle nests MARKs deeper than %d", maxMarkDepth)
			}
		case 't', 'l', 'd', 'u', 'e', '1', 0x91, 0x90: // TUPLE LIST DICT SETITEMS APPENDS POP_MARK FROZENSET ADDITEMS
			if depth == 0 {
				return fmt.Errorf("pickle opcode 0x%02x at offset %d without a MARK", op, at)
			}
			depth--
		case '0', '2', 'N', 'Q', 'R', 'a', 'b', '}', ']', 's', ')', 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f:
			// POP DUP NONE BINPERSID REDUCE APPEND BUILD EMPTY_DICT EMPTY_LIST
			// SETITEM EMPTY_TUPLE TUPLE1-3 NEWTRUE NEWFALSE EMPTY_SET
		case 0x93: // STACK_GLOBAL
			if len(window) < 2 || !window[len(window)-1].known || !window[len(window)-2].known {
				return fmt.Errorf("pickle STACK_GLOBAL at offset %d with operands that are not string literals is not supported", at)
			}
			module, name := window[len(window)-2].s, window[len(window)-1].s
			if _, _, err := lookupGlobal(module, name); err != nil {
				return err
			}
		case 0x94: // MEMOIZE
			memo[len(memo)] = top()
			reset = false

		// Fixed-size arguments.
		case 'J': // BININT
			_, err = need(op, at, 4)
		case 'K': // BININT1
			_, err = need(op, at, 1)
		case 'M': // BININT2
			_, err = need(op, at, 2)
		case 'G': // BINFLOAT
			_, err = need(op, at, 8)
		case 0x80: // PROTO
			if b, err = need(op, at, 1); err == nil && b[0] > 5 {
				err = fmt.Errorf("unsupported pickle protocol %d", b[0])
			}
			reset = false
		case 0x95: // FRAME
			if b, err = need(op, at, 8); err == nil {
				if n := binary.LittleEndian.Uint64(b); n > uint64(len(p)-i) {
					err = fmt.Errorf("pickle frame at offset %d declares %d bytes, only %d left (truncated?)", at, n, len(p)-i)
				}
			}
			reset = false
		case 'h': // BINGET
			if b, err = need(op, at, 1); err == nil {
				window = append(window, memo[int(b[0])])
				reset = false
			}
		case 'j': // LONG_BINGET
			if b, err = need(op, at, 4); err == nil {
				window = append(window, memo[int(binary.LittleEndian.Uint32(b))])
				reset = false
			}
		case 'q': // BINPUT
			if b, err = need(op, at, 1); err == nil {
				memo[int(b[0])] = top()
				reset = false
			}
		case 'r': // LONG_BINPUT
			if b, err = need(op, at, 4); err == nil {
				memo[int(binary.LittleEndian.Uint32(b))] = top()
				reset = false
			}

		// Text-line arguments.
		case 'I', 'L', 'F': // INT LONG FLOAT
			if b, err = line(op, at); err == nil && len(b) > maxNumberLine {
				err = fmt.Errorf("pickle number at offset %d is %d characters long", at, len(b))
			}
		case 'S': // STRING (quoted)
			if b, err = line(op, at); err == nil {
				if len(b) >= 2 && b[0] == b[len(b)-1] && (b[0] == '\'' || b[0] == '"') {
					window = append(window, scanVal{s: string(b[1 : len(b)-1]), known: true})
					reset = false
				}
			}
		case 'V': // UNICODE
			if b, err = line(op, at); err == nil {
				window = append(window, scanVal{s: string(b), known: true})
				reset = false
			}
		case 'g', 'p': // GET PUT
			if b, err = line(op, at); err == nil {
				var idx int
				if idx, err = parseMemoIndex(b); err == nil {
					if op == 'g' {
						window = append(window, memo[idx])
					} else {
						memo[idx] = top()
					}
					reset = false
				}
			}
		case 'c': // GLOBAL
			var module, name []byte
			if module, err = line(op, at); err == nil {
				if name, err = line(op, at); err == nil {
					_, _, err = lookupGlobal(string(module), string(name))
				}
			}

		// Counted arguments.
		case 'U', 'C', 0x8c: // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE
			if b, err = need(op, at, 1); err == nil {
				if b, err = need(op, at, uint64(b[0])); err == nil && op != 'C' {
					window = append(window, scanVal{s: string(b), known: true})
					reset = false
				}
			}
		case 0x8a: // LONG1
			if b, err = need(op, at, 1); err == nil {
				if b[0] == 0 {
					err = fmt.Errorf("pickle LONG1 at offset %d with zero length is not supported", at)
				} else {
					_, err = need(op, at, uint64(b[0]))
				}
			}
		case 'T', 'X', 'B', 0x8b: // BINSTRING BINUNICODE BINBYTES LONG4
			if b, err = need(op, at, 4); err == nil {
				n := binary.LittleEndian.Uint32(b)
				if (op == 'T' || op == 0x8b) && n >= 1<<31 {
					err = fmt.Errorf("pickle opcode 0x%02x at offset %d has a negative length", op, at)
				} else if op == 0x8b && n == 0 {
					err = fmt.Errorf("pickle LONG4 at offset %d with zero length is not supported", at)
				} else if b, err = need(op, at, uint64(n)); err == nil && op != 'B' && op != 0x8b {
					window = append(window, scanVal{s: string(b), known: true})
					reset = false
				}
			}
		case 0x8d, 0x8e: // BINUNICODE8 BINBYTES8
			if b, err = need(op, at, 8); err == nil {
				if b, err = need(op, at, binary.LittleEndian.Uint64(b)); err == nil && op == 0x8d {
					window = append(window, scanVal{s: string(b), known: true})
					reset = false
				}
			}

		// Refused.
		case 'P':
			err = fmt.Errorf("pickle opcode PERSID (text persistent id) at offset %d is not allowed in a checkpoint", at)
		case 'i': // INST module\nname\n: name the global if it is not allowed
			var module, name []byte
			if module, err = line(op, at); err == nil {
				if name, err = line(op, at); err == nil {
					if _, _, err = lookupGlobal(string(module), string(name)); err == nil {
						err = fmt.Errorf("pickle opcode INST at offset %d is not allowed: a state dict never instantiates classes", at)
					}
				}
			}
		case 'o', 0x81, 0x92:
			err = fmt.Errorf("pickle opcode %s at offset %d is not allowed: a state dict never instantiates classes", opName(op), at)
		case 0x82, 0x83, 0x84:
			err = fmt.Errorf("pickle extension-registry opcode at offset %d is not allowed", at)
		case 0x96, 0x97, 0x98:
			err = fmt.Errorf("pickle out-of-band buffer opcode at offset %d is not allowed", at)
		default:
			err = fmt.Errorf("unknown pickle opcode 0x%02x at offset %d (corrupt data.pkl?)", op, at)
		}
		if err != nil {
			return err
		}
		if op == 0x93 {
			window = append(window[:len(window)-2], scanVal{})
		} else if reset {
			window = window[:0]
		}
	}
	return fmt.Errorf("pickle ends without a STOP opcode (truncated?)")
}

// opCost is a generous estimate of the bytes gopickle allocates for one
// opcode besides its argument.
func opCost(op byte) int64 {
	switch op {
	case '(': // a new stack slice and a meta-stack entry
		return 320
	case '}', ']', ')', 0x8f, 't', 'l', 'd', 0x85, 0x86, 0x87, 'R', 0x91, 'Q':
		return 192
	}
	return 64
}

func opName(op byte) string {
	switch op {
	case 'o':
		return "OBJ"
	case 0x81:
		return "NEWOBJ"
	case 0x92:
		return "NEWOBJ_EX"
	}
	return fmt.Sprintf("0x%02x", op)
}

// parseMemoIndex parses the decimal argument of GET/PUT the way gopickle
// does (strconv.Atoi), refusing negative values.
func parseMemoIndex(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("bad memo index %q", b)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad memo index %q", b)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// Package checkpoint reads and writes state dicts: the named tensors of a
// GRFormer model, as PyTorch / BasicSR checkpoints (.pth) or safetensors
// files. It depends on nothing else in this module.
//
// # Overview
//
// A StateDict maps names such as "conv_first.weight" to a *Tensor. A Tensor
// is always decoded to contiguous row-major host memory: floating values
// (F32, F64, F16, BF16 in the file) in Tensor.F32, integer and boolean
// values in Tensor.I64; Tensor.DType keeps the dtype the file stored, and an
// F64 tensor also keeps its exact values in Tensor.F64.
//
//	sd, err := checkpoint.Load("net_g_latest.pth")      // or .safetensors
//	sd, info, err := checkpoint.LoadWithInfo(path)      // info.Source: params_ema, params, state_dict
//	err = checkpoint.WriteFile("out.safetensors", sd)   // atomic; .pth or .safetensors
//
// # Where things are
//
//	load.go          Load, LoadWithInfo, Decode (format sniffing), LoadInfo, WriteFile (atomic)
//	tensor.go        DType, Tensor, StateDict, validation, fp16/bf16 conversion
//	convert.go       little-endian decoding of every dtype, encoding for the writers
//	pth_read.go      ReadPTH, DecodePTH: zip handling, restricted unpickling, state-dict
//	                 selection, view (size/stride/offset) checks and gathering
//	pickle_scan.go   the global allowlist and the pickle pre-scan (the safety model below)
//	pth_write.go     WritePTH: a protocol-2 pickle laid out as torch.save does, aligned zip
//	safetensors.go   ReadSafetensors, DecodeSafetensors, WriteSafetensors
//
// # Formats
//
// PyTorch zip format (torch.save since PyTorch 1.6): a zip archive holding
// <archive>/data.pkl, a pickle of the saved object in which every tensor is
// a call of torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
// ...) and every storage a persistent id ('storage', torch.FloatStorage,
// key, location, numel) whose little-endian bytes are the entry
// <archive>/data/<key>; plus <archive>/version and optionally
// <archive>/byteorder (only "little" is accepted). Entries may be stored or
// deflated; sizes are checked against the file before anything is
// allocated, and CRCs are verified. A tensor may be any view of its storage
// (offset, strides, shared storages); it is gathered into contiguous memory.
// Storage classes read: Float, Double, Half, BFloat16, Long, Int, Short,
// Char, Byte and Bool. The legacy (pre-1.6, non-zip) torch.save format is
// not read.
//
// Which dict becomes the state dict: BasicSR saves {'params': state_dict}
// and sometimes also 'params_ema', the EMA weights, which are preferred.
// So: the "params_ema" entry of the top-level dict if present, else
// "params", else the top-level dict itself if all its values are tensors
// (torch.save(model.state_dict())). LoadInfo.Source says which; anything
// else is an error that lists the top-level keys.
//
// Safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {str: str}}, then the data area, offsets relative to its start. The
// reader checks N against the file size and the 100 MB limit of the
// reference implementation, rejects duplicate names, unknown dtypes,
// trailing garbage, offsets outside the data area, overlapping tensors, and
// byte spans that do not equal numel*dtype size; gaps are tolerated. The
// writer pads the header with spaces to a multiple of 8 bytes and writes the
// tensors in sorted key order.
//
// Writers store F32 and I64 tensors (F64 when a tensor carries F64 values).
// WritePTH lays out the zip and the pickle as torch.save does, using only
// what torch.load(path, weights_only=True) allows; the tests check its
// output with an independent Python reader (pickletools and a restricted
// pickle.Unpickler) and with torch.load itself where PyTorch is installed.
//
// # Safety model
//
// A .pth pickle is a program: unpickled naively it may call any Python
// global (os.system, builtins.eval, ...). This package never executes
// anything; the pickle is interpreted by github.com/nlpodyssey/gopickle,
// and three layers keep that interpretation to what a state dict needs:
//
//  1. An allowlist of globals (lookupGlobal): collections.OrderedDict,
//     torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter,
//     _rebuild_parameter_with_state and the torch.*Storage classes above.
//     Any other global is an error naming it (a *DisallowedGlobalError:
//     `pickle global "os.system" is not allowed ...`); it is never looked
//     up, called or silently skipped.
//  2. A pre-scan of the opcode stream (scanPickle) before decoding. It
//     applies the allowlist to GLOBAL and STACK_GLOBAL opcodes (needed
//     because gopickle resolves collections.OrderedDict,
//     __builtin__.object and copy_reg._reconstructor itself, without
//     calling its FindClass hook), refuses opcodes a state dict never uses
//     and that instantiate arbitrary classes (INST, OBJ, NEWOBJ, NEWOBJ_EX,
//     extension codes, out-of-band buffers), and checks every length
//     prefix against the bytes left, so that the decoder never allocates
//     more than the pickle holds. It also bounds MARK nesting and the
//     estimated decoding memory, and refuses zero-length LONG1/LONG4, on
//     which gopickle v0.2.0 panics.
//  3. gopickle's FindClass hook applies the allowlist again, and its
//     PersistentLoad hook only accepts torch storage ids; a panic inside
//     the decoder (gopickle has others on malformed input, e.g. an odd
//     number of SETITEMS items or an unhashable dict key) is recovered and
//     reported as a malformed pickle.
//
// Every size from the file is validated before it is used to allocate:
// storage sizes against their zip entries, views against their storages,
// the total number of decoded elements against a small multiple of the
// file size, the safetensors header and offsets against the file size. A
// truncated or corrupt file is an error (naming the file, and the key when
// one is at fault), never a panic or an oversized allocation; FuzzLoad and
// FuzzPickle exercise this.
//
// # Library choices
//
// gopickle (github.com/nlpodyssey/gopickle, v0.2.0, BSD-2-Clause, by the
// authors of the spago ML library) is pure Go, small enough to audit,
// supports pickle protocols 0-5, and exposes the two hooks a restricted
// unpickler needs: FindClass (class lookup) and PersistentLoad (storage
// references). It is not very active (v0.2.0 is from January 2023 and calls
// itself alpha), which is why it is not trusted alone: the gaps of its
// pickle package (built-in globals that bypass FindClass, allocation before
// length checks, a few panics on malformed input) are closed by the pre-scan
// and the recover described above, and the fuzz targets cover it. Its own
// pytorch package is not used: it allocates each storage at the size the
// pickle declares before comparing it with the zip entry, does not gather
// strided views, and accepts a few more globals than a state dict needs;
// this package checks sizes first and gathers views itself. The
// alternatives were a hand-written unpickler (more code of our own to get
// right) or a cgo binding to libtorch (excluded: the module is pure Go).
//
// Safetensors is implemented here rather than with
// github.com/nlpodyssey/safetensors: the format is a JSON header and raw
// little-endian data, about 200 lines to read and write with full
// validation; doing it here adds no dependency, keeps the validation and
// error messages under our control, and converts F16/BF16/F64 into the
// same Tensor layout as the .pth reader.
package checkpoint

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
//	pickle.go        the global allowlist and the restricted pickle decoder (the safety model below)
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
// deflated, except storages, which must be stored (as torch.save writes
// them); sizes are checked against the file before anything is allocated,
// and CRCs are verified. A tensor may be any view of its storage
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
// reader checks N against the file size, the 100 MB limit of the
// reference implementation and its own 8 MiB limit, rejects duplicate names, unknown dtypes,
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
// anything. data.pkl is run by a small pickle machine of its own
// (decodePickle in pickle.go) that knows only what a state dict needs:
//
//  1. An allowlist of globals (lookupGlobal): collections.OrderedDict,
//     torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter,
//     _rebuild_parameter_with_state and the torch.*Storage classes above.
//     Any other global, by GLOBAL, STACK_GLOBAL or INST, is an error naming
//     it (a *DisallowedGlobalError: `pickle global "os.system" is not
//     allowed ...`); it is never looked up, called or silently skipped.
//     Only OrderedDict() and the rebuild functions can be called (REDUCE),
//     and BUILD is only accepted on an OrderedDict (torch's _metadata,
//     ignored). Opcodes that instantiate arbitrary classes (INST, OBJ,
//     NEWOBJ, NEWOBJ_EX), extension codes, sets, text persistent ids and
//     out-of-band buffers are refused; the persistent ids of BINPERSID must
//     be torch storage ids.
//  2. Bounded cost. Every length prefix is checked against the bytes left
//     before anything is read; data.pkl is at most 16 MiB; every
//     allocation the machine makes (strings, containers and their growth,
//     stack growth, memo entries, and a little per opcode) is charged to an
//     estimate that may not pass 48 MiB, and every opcode costs constant
//     time or time linear in the values it consumes (LONG1/LONG4 are
//     decoded in linear time; integers beyond 64 bits are never built).
//     So any pickle is refused or decoded within about 100 MB and a
//     fraction of a second. MARK nesting is bounded too.
//  3. Short messages. Errors describe values by type ("REDUCE on the str
//     "aaaa..." (104857600 bytes)"), cut names and strings from the file,
//     and the readers cut any message to maxErrorLen as a last resort.
//
// Every size from the file is validated before it is used to allocate:
// storage sizes against their zip entries (which must be stored
// uncompressed, as torch.save writes them: a deflated storage could inflate
// without bound), views against their storages, the total number of decoded
// elements against a small multiple of the file size, the number of tensors
// (maxTensors) and of dimensions (maxRank), the safetensors header against
// the file size and this reader's 8 MiB limit (the format allows 100 MB,
// which would cost several times that to parse), and each header entry's
// length. A truncated or corrupt file is an error (naming the file, and the
// key when one is at fault), never a panic or an oversized allocation;
// Load refuses a FIFO, device or socket at open instead of waiting on it.
// FuzzLoad, FuzzPickle and FuzzSafetensorsHeader exercise all this, with
// the hostile files of hostile_test.go in their seed corpus.
//
// # Library choices
//
// The pickle machine is our own, about 700 lines with the allowlist, rather than
// github.com/nlpodyssey/gopickle, which this package used before behind a
// pre-scan of the opcodes. gopickle decodes LONG4 in quadratic time (a
// 1 MB opcode took a minute), formats whole values into its error messages
// with %#v (a REDUCE on a 100 MB string gave a 419 MB message), resolves
// some globals without asking its FindClass hook, panics on some malformed
// input, and keeps allocation out of its caller's sight (a pickle of 15M
// memo operations cost 2.3 GB). A pre-scan able to refuse all of that must
// track the types on the stack, which is an unpickler already; carrying
// the decoder of the ~50 opcodes a state dict can use, with the allowlist,
// cost accounting and messages built in, is less code than scan plus
// library plus recover, and leaves nothing unaudited. A cgo binding to
// libtorch was excluded (the module is pure Go).
//
// Safetensors is implemented here rather than with
// github.com/nlpodyssey/safetensors: the format is a JSON header and raw
// little-endian data, about 200 lines to read and write with full
// validation; doing it here adds no dependency, keeps the validation and
// error messages under our control, and converts F16/BF16/F64 into the
// same Tensor layout as the .pth reader.
package checkpoint

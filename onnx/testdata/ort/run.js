// Runs an ONNX model with onnxruntime-node on one float32 NCHW input and
// writes the output; used by the Go tests and benchmarks of package onnx.
//
//   node run.js MODEL.onnx IN.f32 N C H W OUT.f32 [REPEATS] [THREADS]
//
// IN.f32 and OUT.f32 are raw little-endian float32. It prints one JSON line:
// {"dims": [...], "ms": [wall time of each run], "cpu_ms": [CPU time of
// each run, user + system, all threads], "load_ms": session creation}.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const a = process.argv.slice(2);
  if (a.length < 7) {
    throw new Error('usage: node run.js MODEL.onnx IN.f32 N C H W OUT.f32 [REPEATS] [THREADS]');
  }
  const [model, inPath] = a;
  const dims = a.slice(2, 6).map(Number);
  const outPath = a[6];
  const repeats = Number(a[7] || 1);
  const threads = Number(a[8] || 0);
  const opts = { graphOptimizationLevel: 'all', executionProviders: ['cpu'] };
  if (threads > 0) {
    opts.intraOpNumThreads = threads;
    opts.interOpNumThreads = 1;
  }
  let t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, opts);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const buf = fs.readFileSync(inPath);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const input = new ort.Tensor('float32', data, dims);
  const ms = [];
  const cpuMs = [];
  let out;
  for (let i = 0; i < repeats; i++) {
    t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    out = (await session.run({ input }))['output'];
    const c = process.cpuUsage(c0);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpuMs.push((c.user + c.system) / 1e3);
  }
  const y = out.data;
  fs.writeFileSync(outPath, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  console.log(JSON.stringify({ dims: out.dims, ms, cpu_ms: cpuMs, load_ms: loadMs, version: ort.env.versions }));
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});

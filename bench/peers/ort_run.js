#!/usr/bin/env node
// Peer benchmark: ONNX Runtime (onnxruntime-node, CPU) inference latency on one .npy input.
// Reads a little-endian float32 ('<f4') or int64 ('<i8') C-order .npy file, feeds it to the
// model's first input (or --input NAME), and prints JSON with the median / min latency in ms.
//
// usage: node ort_run.js MODEL.onnx INPUT.npy [--runs N] [--warmup W] [--threads T] [--input NAME]
'use strict';

const fs = require('fs');
const path = require('path');

function fail(msg) {
  process.stderr.write(`ort_run: ${msg}\n`);
  process.exit(1);
}

function usage(msg) {
  if (msg) process.stderr.write(`ort_run: ${msg}\n`);
  process.stderr.write('usage: node ort_run.js MODEL.onnx INPUT.npy [--runs N] [--warmup W] ' +
                       '[--threads T] [--input NAME]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, npy: null, runs: 20, warmup: 3, threads: 1, input: null };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const num = (min) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) usage(`${s} needs an integer >= ${min}`);
      return v;
    };
    if (s === '--runs' || s === '-n') a.runs = num(1);
    else if (s === '--warmup' || s === '-w') a.warmup = num(0);
    else if (s === '--threads' || s === '-t') a.threads = num(0);
    else if (s === '--input') { if (i + 1 >= argv.length) usage('--input needs a name'); a.input = argv[++i]; }
    else if (s.startsWith('-')) usage(`unknown option ${s}`);
    else if (a.model === null) a.model = s;
    else if (a.npy === null) a.npy = s;
    else usage(`unexpected argument ${s}`);
  }
  if (a.model === null || a.npy === null) usage('need MODEL.onnx and INPUT.npy');
  return a;
}

// Minimal .npy reader (format versions 1-3): returns { dtype, shape, data }.
function readNpy(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { fail(`${file}: ${e.message}`); }
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) fail(`${file}@0: not a .npy file`);
  const major = buf[6];
  let hlen, hoff;
  if (major === 1) { hlen = buf.readUInt16LE(8); hoff = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(`${file}@8: truncated header length`);
    hlen = buf.readUInt32LE(8); hoff = 12;
  } else fail(`${file}@6: unsupported .npy version ${major}`);
  if (hoff + hlen > buf.length) fail(`${file}@${hoff}: header runs past end of file`);
  const header = buf.toString('latin1', hoff, hoff + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) fail(`${file}@${hoff}: cannot parse header ${header.trim()}`);
  if (fortran[1] === 'True') fail(`${file}@${hoff}: fortran_order arrays are not supported`);
  const shape = shapeM[1].split(',').map((t) => t.trim()).filter((t) => t.length).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`${file}@${hoff}: bad shape ${shapeM[1]}`);
  const count = shape.reduce((x, y) => x * y, 1);
  const kinds = { '<f4': ['float32', 4, Float32Array], '<i8': ['int64', 8, BigInt64Array] };
  const kind = kinds[descr[1]];
  if (!kind) fail(`${file}@${hoff}: dtype ${descr[1]} not supported (only <f4, <i8)`);
  const off = hoff + hlen;
  if (buf.length - off < count * kind[1]) {
    fail(`${file}@${off}: ${count} x ${kind[0]} expected, only ${buf.length - off} bytes left`);
  }
  // copy into a fresh, aligned ArrayBuffer
  const ab = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + count * kind[1]);
  return { dtype: kind[0], shape, data: new kind[2](ab) };
}

function stats(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median_ms: +med.toFixed(4), min_ms: +s[0].toFixed(4),
           p90_ms: +s[Math.min(s.length - 1, Math.floor(s.length * 0.9))].toFixed(4) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node')); } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message}); run scripts/install-deps.sh --bench`);
  }
  const arr = readNpy(args.npy);
  const sess = await ort.InferenceSession.create(args.model, {
    graphOptimizationLevel: 'all', intraOpNumThreads: args.threads, interOpNumThreads: 1,
    executionMode: 'sequential' });
  const name = args.input || sess.inputNames[0];
  if (!sess.inputNames.includes(name)) fail(`${args.model}: no input named ${name}`);
  const feeds = { [name]: new ort.Tensor(arr.dtype, arr.data, arr.shape) };
  for (let i = 0; i < args.warmup; i++) await sess.run(feeds);
  const times = [];
  for (let i = 0; i < args.runs; i++) {
    const t = process.hrtime.bigint();
    await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await sess.release();
  console.log(JSON.stringify(Object.assign({ runtime: 'onnxruntime-node',
    version: ort.env.versions.node || null, model: args.model, input: name, shape: arr.shape,
    threads: args.threads, runs: args.runs }, stats(times))));
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));

#!/usr/bin/env node
// Peer benchmark: ONNX Runtime (onnxruntime-node, CPU) session-creation time for one model file.
// Creates an InferenceSession (graphOptimizationLevel 'all') N times in this process and prints
// JSON with every creation time in ms and their median. --require-only just loads the package
// (to measure node + ORT's baseline resident memory under /usr/bin/time -v).
//
// usage: node ort_load.js MODEL.onnx [--runs N] [--threads T]
//        node ort_load.js --require-only
'use strict';

const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`ort_load: ${msg}\n`);
  process.stderr.write('usage: node ort_load.js MODEL.onnx [--runs N] [--threads T]\n' +
                       '       node ort_load.js --require-only\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, runs: 1, threads: 1, requireOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const num = (name) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) usage(`${name} needs a non-negative integer`);
      return v;
    };
    if (s === '--runs' || s === '-n') a.runs = num(s);
    else if (s === '--threads' || s === '-t') a.threads = num(s);
    else if (s === '--require-only') a.requireOnly = true;
    else if (s === '-h' || s === '--help') usage();
    else if (s.startsWith('-')) usage(`unknown option ${s}`);
    else if (a.model === null) a.model = s;
    else usage(`unexpected argument ${s}`);
  }
  if (!a.requireOnly && a.model === null) usage('no model given');
  return a;
}

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function loadOrt() {
  // Prefer the copy installed beside this script (bench/peers/node_modules).
  try {
    return require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    process.stderr.write('ort_load: cannot load onnxruntime-node from ' +
                         `${path.join(__dirname, 'node_modules')} (${e.message}); ` +
                         'run scripts/install-deps.sh --bench\n');
    process.exit(1);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = process.hrtime.bigint();
  const ort = loadOrt();
  const requireMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = { runtime: 'onnxruntime-node', version: ort.env.versions.node || null,
                require_ms: +requireMs.toFixed(3) };
  if (args.requireOnly) {
    console.log(JSON.stringify(out));
    return;
  }
  const opts = { graphOptimizationLevel: 'all', intraOpNumThreads: args.threads,
                 interOpNumThreads: 1, executionMode: 'sequential' };
  const times = [];
  for (let i = 0; i < args.runs; i++) {
    const s = process.hrtime.bigint();
    const sess = await ort.InferenceSession.create(args.model, opts);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
    await sess.release();
  }
  Object.assign(out, { model: args.model, threads: args.threads, runs: args.runs,
                       create_ms: times.map((t) => +t.toFixed(3)),
                       median_ms: times.length ? +median(times).toFixed(3) : null });
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(`ort_load: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});

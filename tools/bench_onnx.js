#!/usr/bin/env node
// bench_onnx.js -- ONNX Runtime's side of the three-way benchmark
// (tools/bench3.sh), with the npm package onnxruntime-node (CPU execution
// provider; tools/setup_bench_peers.sh installs it in build/peers).
//
//   node tools/bench_onnx.js WORKDIR THREADS REPS
//
// WORKDIR is what `tools/bench_torch.py --bench3 WORKDIR` wrote: model.onnx
// (torch.onnx export of the same module and weights), inputs.f32 (64
// inputs, raw float32) and shape.json. The session: intraOpNumThreads =
// THREADS, interOpNumThreads = 1, sequential execution, all graph
// optimisations. Batch 1: median of REPS runs after 50 warm-up runs (each
// run is one await of session.run, so it includes the N-API call and the
// promise round trip, as any Node user of the package pays). Batch 64:
// median of max(20, REPS / 20) after 3 warm-up. Writes the batch-64 logits
// to WORKDIR/onnx-THREADS.f32 and prints
//   RESULT onnx THREADS b1_median_s b64_median_s b64_min_s (onnxruntime-node VERSION)
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const modDir = path.join(root, 'build', 'peers', 'node_modules', 'onnxruntime-node');
let ort;
try {
    ort = require(modDir);
} catch (e) {
    console.error(`bench_onnx: ${modDir}: cannot load onnxruntime-node (run tools/setup_bench_peers.sh): ${e.message}`);
    process.exit(2);
}
const version = require(path.join(modDir, 'package.json')).version;

function median(v) {
    const s = [...v].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

async function main() {
    const [work, threadsArg, repsArg] = process.argv.slice(2);
    const threads = parseInt(threadsArg, 10), reps = parseInt(repsArg, 10);
    if (!work || !(threads >= 1) || !(reps >= 1)) {
        console.error('usage: node tools/bench_onnx.js WORKDIR THREADS REPS');
        process.exit(2);
    }
    const shape = JSON.parse(fs.readFileSync(path.join(work, 'shape.json'), 'utf8'));
    const buf = fs.readFileSync(path.join(work, 'inputs.f32'));
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const per = shape.input.reduce((a, b) => a * b, 1);
    if (all.length !== 64 * per) {
        console.error(`bench_onnx: ${work}/inputs.f32: expected 64 x ${per} floats, found ${all.length}`);
        process.exit(2);
    }
    const session = await ort.InferenceSession.create(path.join(work, 'model.onnx'), {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const one = [];
    for (let i = 0; i < 64; i++)
        one.push(new ort.Tensor('float32', all.subarray(i * per, (i + 1) * per), [1, ...shape.input]));
    const batch = new ort.Tensor('float32', all, [64, ...shape.input]);
    const clock = () => Number(process.hrtime.bigint()) * 1e-9;
    for (let r = 0; r < 50; r++)
        await session.run({ input: one[r % 64] });
    const t1 = [];
    for (let r = 0; r < reps; r++) {
        const t0 = clock();
        await session.run({ input: one[r % 64] });
        t1.push(clock() - t0);
    }
    let out;
    for (let r = 0; r < 3; r++)
        out = await session.run({ input: batch });
    const tb = [];
    for (let r = 0; r < Math.max(20, Math.floor(reps / 20)); r++) {
        const t0 = clock();
        out = await session.run({ input: batch });
        tb.push(clock() - t0);
    }
    const logits = out.logits.data;
    fs.writeFileSync(path.join(work, `onnx-${threads}.f32`),
                     Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
    console.log(`RESULT onnx ${threads} ${median(t1).toPrecision(9)} ${median(tb).toPrecision(9)} ${Math.min(...tb).toPrecision(9)} ` +
                `(onnxruntime-node ${version})`);
}

main().catch((e) => {
    console.error(`bench_onnx: ${e.message}`);
    process.exit(2);
});

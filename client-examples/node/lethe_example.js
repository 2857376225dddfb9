// Lethe from Node: upload a model, evaluate it, build its Fisher, erase samples, fetch the new
// version. Uses @grpc/grpc-js and @grpc/proto-loader with ../../proto.
//
// usage: node lethe_example.js [--target HOST:PORT] --data digits.csv.gz
'use strict';
const path = require('path');
const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const target = arg('--target', process.env.LETHE_TARGET || '127.0.0.1:50051');
const dataFile = arg('--data');
const name = arg('--name', 'digits-node');
if (!dataFile) {
  console.error('usage: node lethe_example.js [--target HOST:PORT] --data digits.csv.gz');
  process.exit(2);
}

const definition = protoLoader.loadSync('lethe/v1/model_store.proto', {
  includeDirs: [path.join(__dirname, '..', '..', 'proto')],
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
const lethe = grpc.loadPackageDefinition(definition).lethe.v1;
const store = new lethe.ModelStore(target, grpc.credentials.createInsecure());

const call = (method, request) => new Promise((resolve, reject) =>
  store[method](request, (err, response) => (err ? reject(err) : resolve(response))));

function download(request) {
  return new Promise((resolve, reject) => {
    let header;
    const parts = [];
    store.GetModel(request)
      .on('data', (m) => (m.header ? (header = m.header) : parts.push(m.chunk)))
      .on('error', reject)
      .on('end', () => {
        const bytes = Buffer.concat(parts);
        const sha = crypto.createHash('sha256').update(bytes).digest('hex');
        if (sha !== header.sha256) reject(new Error('download corrupt'));
        else resolve({ header, bytes });
      });
  });
}

function readDigits(file, rows) {
  let text = fs.readFileSync(file);
  if (file.endsWith('.gz')) text = zlib.gunzipSync(text);
  const lines = text.toString().split('\n').filter((l) => l.trim()).slice(0, rows);
  return lines.map((l) => l.split(',').map(Number));
}

async function main() {
  const n = 200;
  const rows = readDigits(dataFile, n);
  const batch = (idx) => ({
    ids: idx.map((i) => `digits:${i}`),
    inputs: { pixels: { dims: [idx.length, 64], float_data: idx.flatMap((i) => rows[i].slice(0, 64)) } },
    labels: { dims: [idx.length], int64_data: idx.map((i) => rows[i][64]) },
  });
  const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);

  // 1. Fetch the sidecar's demo model and upload it as our own (client stream: spec, chunks).
  //    Idempotent: a second run finds the model (and its erasure) and uses it as it is.
  const demo = await download({ name: 'digits' });
  const listed = await call('ListModels', {});
  let info = listed.models.find((m) => m.name === name);
  if (info) {
    console.log('found', info.name, 'version', info.active_version, '(an earlier run)');
  } else {
    info = await new Promise((resolve, reject) => {
      const up = store.PutModel((err, r) => (err ? reject(err) : resolve(r)));
      up.write({ spec: { name, loss: 'SOFTMAX_CROSS_ENTROPY', logits_output: 'logits', train_size: n, l2: 0.001 } });
      up.write({ chunk: demo.bytes });
      up.end();
    });
    console.log('uploaded', info.name, 'version', info.active_version);
  }

  // 2. Evaluate.
  const ev = await call('Evaluate', { name, samples: batch(range(0, n)) });
  console.log(`accuracy ${ev.accuracy.toFixed(4)}, mean loss ${ev.mean_loss.toFixed(4)}`);

  // 3. Build the Fisher (once): options, then batches; the server streams progress.
  if (info.fisher_ready) {
    console.log('fisher', info.fisher.fisher_id, 'of', info.fisher.samples, 'samples (an earlier run)');
  } else {
    const last = await new Promise((resolve, reject) => {
      let progress;
      const build = store.BuildFisher();
      build.on('data', (p) => (progress = p)).on('error', reject).on('end', () => resolve(progress));
      build.write({ options: { name, samples: n } });
      build.write({ samples: batch(range(0, 100)) });
      build.write({ samples: batch(range(100, n)) });
      build.end();
    });
    if (!last.done) throw new Error('BuildFisher did not finish');
    console.log('fisher', last.summary.fisher_id, 'blocks', last.summary.blocks);
  }

  // 4. Erase three samples (a repeated request id returns the first answer).
  const erased = await call('Erase', { name, request_id: 'node-example-1', samples: batch([0, 1, 2]) });
  console.log('erased', erased.erased, '-> version', erased.version);
  if (erased.erased !== 3 || erased.version !== 2) throw new Error('unexpected erase response');

  // 5. Fetch the new version.
  const v2 = await download({ name });
  if (v2.header.version !== 2) throw new Error('expected version 2');
  console.log('fetched version', v2.header.version, v2.bytes.length, 'bytes');

  // 6. A bad request gets a clear status.
  try {
    await call('Evaluate', { name: 'no-such-model', samples: batch([0]) });
    throw new Error('expected NOT_FOUND');
  } catch (e) {
    if (e.code !== grpc.status.NOT_FOUND) throw e;
    console.log('unknown model -> NOT_FOUND');
  }
  console.log('node example: OK');
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });

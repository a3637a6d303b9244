'use strict';
// A small service for obsgen's live tests. It exposes what a real Node.js service exposes:
// prom-client's default metrics and BullMQ's own Prometheus export, on one /metrics endpoint.
// Its behaviour switches between modes (steady, leak, failing, stuck) at start (MODE) or at
// run time (POST /mode), so that the generated alerts can be watched firing against real
// components.
//
// Environment:
//   PORT (required)          HTTP port on 127.0.0.1
//   REDIS_PORT (required)    Redis port on 127.0.0.1
//   MODE                     steady | leak | failing | stuck (default steady)
//   MODE_AFTER_SECONDS       run steady this long first, then switch to MODE (default 0): a
//                            service that worked before it broke, as a stuck queue usually did
//   QUEUE                    BullMQ queue name (default grading)
//   JOBS_PER_SECOND          jobs the producer adds per second (default 10)
//   FAIL_RATIO               share of jobs that fail in failing mode (default 0.5)
//   LEAK_BYTES_PER_SECOND    heap retained per second in leak mode (default 2 MiB)
//
// Admin endpoints: GET /healthz, GET /mode, POST /mode with {"mode": "...", "failRatio": 0.5,
// "leakBytesPerSecond": 1048576} (every field optional).

const crypto = require('node:crypto');
const http = require('node:http');
const client = require('prom-client');
const { Queue, Worker, MetricsTime } = require('bullmq');

const MODES = {
  // Jobs succeed, nothing is retained: the baseline in which no alert may fire.
  steady: { leak: false, failing: false, workerPaused: false },
  // Objects are retained for good, so they survive GC and old space (and the heap floor) grows.
  leak: { leak: true, failing: false, workerPaused: false },
  // A set share of jobs throws in the processor; they fail for good (one attempt).
  failing: { leak: false, failing: true, workerPaused: false },
  // The worker stops taking jobs while the producer goes on: the queue is stuck.
  stuck: { leak: false, failing: false, workerPaused: true },
};

const LEAK_TICK_MS = 100;
// Small objects, not big buffers: Buffers live outside the V8 heap and large strings or arrays go
// to large-object space, while a leak of many small objects is what grows old space in real services.
const LEAK_OBJECT_PAYLOAD_CHARS = 512;
const LEAK_OBJECT_BYTES = LEAK_OBJECT_PAYLOAD_CHARS + 64;
const METRICS_QUEUE_TIMEOUT_MS = 2000;

function requiredPort(name) {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`live-app: ${name} must be a port number, got ${JSON.stringify(process.env[name])}`);
    process.exit(2);
  }
  return value;
}

function numberFrom(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`live-app: ${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const config = {
  port: requiredPort('PORT'),
  redisPort: requiredPort('REDIS_PORT'),
  queueName: process.env.QUEUE || 'grading',
  jobsPerSecond: numberFrom('JOBS_PER_SECOND', 10),
};

const state = {
  mode: 'steady',
  failRatio: numberFrom('FAIL_RATIO', 0.5),
  leakBytesPerSecond: numberFrom('LEAK_BYTES_PER_SECOND', 2 * 1024 * 1024),
  retained: [],
  // Failures are spread evenly rather than drawn at random, so a ratio of 0.5 fails exactly every
  // other job and the failure ratio that Prometheus sees is the configured one.
  failureCredit: 0,
  produced: 0,
};

const register = new client.Registry();
client.collectDefaultMetrics({ register });

const connection = { host: '127.0.0.1', port: config.redisPort, maxRetriesPerRequest: null };
const queue = new Queue(config.queueName, { connection });

async function processJob(job) {
  await new Promise((resolve) => setTimeout(resolve, 5 + (job.data.n % 20)));
  if (MODES[state.mode].failing) {
    state.failureCredit += state.failRatio;
    if (state.failureCredit >= 1) {
      state.failureCredit -= 1;
      throw new Error(`simulated failure of job ${job.id}`);
    }
  }
  return { ok: true };
}

const worker = new Worker(config.queueName, processJob, {
  connection,
  concurrency: 4,
  // Without `metrics`, BullMQ records no completed/failed totals and
  // bullmq_job_completed_total / bullmq_job_failed_total stay at 0 forever.
  metrics: { maxDataPoints: MetricsTime.ONE_WEEK * 2 },
});
worker.on('error', (err) => console.error(`live-app: worker error: ${err.message}`));

function produce() {
  state.produced += 1;
  queue
    .add('grade', { n: state.produced }, { attempts: 1, removeOnComplete: 1000, removeOnFail: 1000 })
    .catch((err) => console.error(`live-app: could not add a job: ${err.message}`));
}

function leakTick() {
  if (!MODES[state.mode].leak) return;
  const count = Math.max(1, Math.round((state.leakBytesPerSecond * LEAK_TICK_MS) / 1000 / LEAK_OBJECT_BYTES));
  const batch = new Array(count);
  for (let i = 0; i < count; i += 1) {
    batch[i] = { at: Date.now(), payload: crypto.randomBytes(LEAK_OBJECT_PAYLOAD_CHARS / 2).toString('hex') };
  }
  state.retained.push(batch);
}

async function setMode(change) {
  if (change.mode !== undefined && !(change.mode in MODES)) {
    throw new Error(`unknown mode ${JSON.stringify(change.mode)}; modes: ${Object.keys(MODES).join(', ')}`);
  }
  for (const key of ['failRatio', 'leakBytesPerSecond']) {
    if (change[key] !== undefined) {
      if (typeof change[key] !== 'number' || !(change[key] >= 0)) throw new Error(`${key} must be a number >= 0`);
      state[key] = change[key];
    }
  }
  if (change.mode === undefined) return;
  state.mode = change.mode;
  if (!MODES[state.mode].leak) state.retained = []; // leaving leak mode gives the memory back
  if (MODES[state.mode].workerPaused) {
    await worker.pause(true);
  } else if (worker.isPaused()) {
    worker.resume();
  }
  console.log(`live-app: mode ${state.mode}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function metricsText() {
  const app = await register.metrics();
  try {
    const queueMetrics = await withTimeout(queue.exportPrometheusMetrics(), METRICS_QUEUE_TIMEOUT_MS,
      'exportPrometheusMetrics');
    return `${app}${queueMetrics}\n`;
  } catch (err) {
    // The process is up even when Redis is not; the missing queue series say the rest.
    console.error(`live-app: queue metrics unavailable: ${err.message}`);
    return app;
  }
}

function status() {
  return {
    mode: state.mode,
    failRatio: state.failRatio,
    leakBytesPerSecond: state.leakBytesPerSecond,
    retainedObjects: state.retained.reduce((sum, batch) => sum + batch.length, 0),
    produced: state.produced,
    queue: config.queueName,
    workerPaused: worker.isPaused(),
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('request body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function reply(res, code, body, contentType = 'application/json') {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const routes = {
  'GET /metrics': async (req, res) => reply(res, 200, await metricsText(), register.contentType),
  'GET /healthz': async (req, res) => {
    await withTimeout((await queue.client).ping(), METRICS_QUEUE_TIMEOUT_MS, 'redis ping');
    reply(res, 200, { ok: true, ...status() });
  },
  'GET /mode': async (req, res) => reply(res, 200, status()),
  'POST /mode': async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const body = await readBody(req);
    let change;
    try {
      change = body.trim() ? JSON.parse(body) : {};
    } catch (err) {
      return reply(res, 400, { error: `body is not JSON: ${err.message}` });
    }
    if (url.searchParams.has('mode')) change.mode = url.searchParams.get('mode');
    try {
      await setMode(change);
    } catch (err) {
      return reply(res, 400, { error: err.message });
    }
    return reply(res, 200, status());
  },
};

const server = http.createServer((req, res) => {
  const route = routes[`${req.method} ${new URL(req.url, 'http://localhost').pathname}`];
  if (!route) return reply(res, 404, { error: `no route ${req.method} ${req.url}` });
  return route(req, res).catch((err) => reply(res, 500, { error: err.message }));
});

let producer;
let leaker;

async function shutdown(signal) {
  console.log(`live-app: ${signal}, shutting down`);
  clearInterval(producer);
  clearInterval(leaker);
  server.close();
  await Promise.allSettled([worker.close(true), queue.close()]);
  process.exit(0);
}

async function main() {
  const mode = process.env.MODE || 'steady';
  if (!(mode in MODES)) throw new Error(`MODE must be one of ${Object.keys(MODES).join(', ')}, got ${JSON.stringify(mode)}`);
  const after = numberFrom('MODE_AFTER_SECONDS', 0);
  await setMode({ mode: after > 0 ? 'steady' : mode });
  if (after > 0) {
    setTimeout(() => setMode({ mode }).catch((err) => console.error(`live-app: could not switch to ${mode}: ${err.message}`)),
      after * 1000);
  }
  producer = setInterval(produce, Math.max(1, Math.round(1000 / Math.max(config.jobsPerSecond, 0.001))));
  leaker = setInterval(leakTick, LEAK_TICK_MS);
  server.listen(config.port, '127.0.0.1', () => {
    console.log(`live-app: listening on 127.0.0.1:${config.port}, queue ${config.queueName}, mode ${state.mode}`);
  });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => shutdown(signal));
}

main().catch((err) => {
  console.error(`live-app: ${err.message}`);
  process.exit(1);
});

'use strict';
// An Express API for obsgen's HTTP and SLO live tests, instrumented the way the seed article's
// kind of service is: express-prom-bundle's request-duration histogram (with method and path) and
// prom-client's default metrics on /metrics. It drives its own traffic: a steady stream of API
// requests and of health-check pings, through its real HTTP stack, so Prometheus sees what it would
// see in production. Routes can be made failing or slow at run time through an admin endpoint.
//
// Environment:
//   PORT (required)          HTTP port on 127.0.0.1
//   REQUESTS_PER_SECOND      API requests the built-in client sends per second (default 20)
//   PINGS_PER_SECOND         health-check pings per second to /api/ping (default 5)
//   FAIL_RATIO               share of POST /api/submissions answered 500 (default 0)
//
// Admin endpoints (not measured): GET /admin/mode, POST /admin/mode with
// {"failRatio": 0.5, "delayMs": 0} (every field optional).

const http = require('node:http');
const express = require('express');
const promBundle = require('express-prom-bundle');

function numberFrom(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`http-server: ${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error(`http-server: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const requestsPerSecond = numberFrom('REQUESTS_PER_SECOND', 20);
const pingsPerSecond = numberFrom('PINGS_PER_SECOND', 5);

const state = {
  failRatio: numberFrom('FAIL_RATIO', 0),
  delayMs: 0,
  // Failures are spread evenly, not drawn at random: a ratio of 0.5 fails every other request.
  failureCredit: 0,
  served: 0,
  failed: 0,
};

const app = express();
app.use(express.json());
// The configuration obsgen's express-prom-bundle convention expects (docs/http.md): method and path
// labels, no `up` gauge of its own, and the buckets the spec declares (500ms is a bound).
app.use(promBundle({
  includeMethod: true,
  includePath: true,
  includeUp: false,
  buckets: [0.003, 0.03, 0.1, 0.3, 0.5, 1.5, 10],
  excludeRoutes: [/^\/admin\//],
  promClient: { collectDefaultMetrics: {} },
}));

app.get('/api/ping', (req, res) => res.json({ ok: true }));

app.post('/api/submissions', (req, res) => {
  state.failureCredit += state.failRatio;
  const fail = state.failureCredit >= 1;
  if (fail) state.failureCredit -= 1;
  setTimeout(() => {
    state.served += 1;
    if (fail) {
      state.failed += 1;
      res.status(500).json({ error: 'the grading backend rejected the submission' });
    } else {
      res.status(201).json({ id: state.served });
    }
  }, state.delayMs);
});

app.get('/api/submissions/:id', (req, res) => res.json({ id: req.params.id }));

app.get('/admin/mode', (req, res) => res.json(state));

app.post('/admin/mode', (req, res) => {
  const change = req.body || {};
  for (const key of ['failRatio', 'delayMs']) {
    if (key in change) {
      const value = Number(change[key]);
      if (!Number.isFinite(value) || value < 0 || (key === 'failRatio' && value > 1)) {
        return res.status(400).json({ error: `${key} must be a number${key === 'failRatio' ? ' from 0 to 1' : ' >= 0'}` });
      }
      state[key] = value;
    }
  }
  return res.json(state);
});

// The built-in client: real HTTP requests to this process, so the middleware measures them.
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function send(method, path) {
  const request = http.request({ host: '127.0.0.1', port, method, path, agent,
    headers: { 'Content-Type': 'application/json' } }, (response) => response.resume());
  request.on('error', () => {});
  request.end(method === 'POST' ? '{"answer": 42}' : undefined);
}

function every(perSecond, fn) {
  if (perSecond <= 0) return;
  setInterval(fn, Math.max(1, Math.round(1000 / perSecond)));
}

const server = app.listen(port, '127.0.0.1', () => {
  let n = 0;
  every(requestsPerSecond, () => {
    n += 1;
    // Mostly submissions, some reads.
    if (n % 5 === 0) send('GET', `/api/submissions/${n}`);
    else send('POST', '/api/submissions');
  });
  every(pingsPerSecond, () => send('GET', '/api/ping'));
  console.log(`http-server: listening on 127.0.0.1:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

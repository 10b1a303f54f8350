// A Web Push service on loopback for broker-bridge's push tests. It checks every request
// with libraries independent of the code under test: `http_ece` decrypts the aes128gcm
// body with the device's private key (RFC 8291), `jose` verifies the VAPID token against
// the application server's public key (RFC 8292). Replies are scripted per device.
//
//   node receiver.mjs --scenario scenario.json --out out.json --log requests.jsonl
//
// scenario.json: {"vapid_public_key": "<base64url>", "subject": "mailto:...",
//                 "devices": {"<name>": [{"status": 201, "headers": {"Retry-After": "2"}}, ...]}}
// Device <name> answers its replies in order; the last one repeats. On start it writes
// out.json: {"port": N, "devices": {"<name>": {"endpoint", "p256dh", "auth"}}} with fresh
// keys, and then appends one JSON line per request to the log:
//   {"device", "at_ms", "status", "problems": [...], "payload", "ttl", "urgency", "topic"}
// A request that fails a check is answered 400 and its problems are logged.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import ece from 'http_ece';
import * as jose from 'jose';

const MAX_BODY_BYTES = 4096;

function arg(name) {
  const at = process.argv.indexOf(name);
  if (at < 0 || at + 1 >= process.argv.length) throw new Error(`missing ${name}`);
  return process.argv[at + 1];
}

const scenario = JSON.parse(fs.readFileSync(arg('--scenario'), 'utf8'));
const logPath = arg('--log');
const b64u = (buf) => Buffer.from(buf).toString('base64url');

// One key pair and auth secret per device, as a browser makes them.
const devices = {};
for (const [name, replies] of Object.entries(scenario.devices)) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  devices[name] = { ecdh, auth: crypto.randomBytes(16), replies, seen: 0 };
}

const vapidPoint = Buffer.from(scenario.vapid_public_key, 'base64url');
const vapidKey = await jose.importJWK({
  kty: 'EC', crv: 'P-256',
  x: b64u(vapidPoint.subarray(1, 33)), y: b64u(vapidPoint.subarray(33, 65)),
}, 'ES256');

async function checkVapid(req, origin, problems) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
  if (!match) {
    problems.push(`Authorization is not "vapid t=..., k=...": ${req.headers.authorization}`);
    return;
  }
  if (match[2] !== scenario.vapid_public_key) problems.push('k is not the VAPID public key');
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(match[1], vapidKey, {
      algorithms: ['ES256'], audience: origin, subject: scenario.subject,
    });
    if (protectedHeader.typ !== 'JWT') problems.push(`JWT typ is ${protectedHeader.typ}`);
    const now = Date.now() / 1000;
    if (!(payload.exp > now && payload.exp <= now + 24 * 3600)) {
      problems.push(`exp ${payload.exp} is not within the next 24 hours`);
    }
  } catch (e) {
    problems.push(`VAPID token refused: ${e.code ?? ''} ${e.message}`);
  }
}

function checkHeaders(req, body, problems) {
  if (req.method !== 'POST') problems.push(`method ${req.method}`);
  if (req.headers['content-encoding'] !== 'aes128gcm') {
    problems.push(`Content-Encoding ${req.headers['content-encoding']}`);
  }
  if (!/^\d+$/.test(req.headers.ttl ?? '')) problems.push(`TTL ${req.headers.ttl}`);
  if (body.length > MAX_BODY_BYTES) problems.push(`body is ${body.length} bytes`);
}

function decrypt(device, body, problems) {
  try {
    return ece.decrypt(body, {
      version: 'aes128gcm', privateKey: device.ecdh, authSecret: b64u(device.auth),
    });
  } catch (e) {
    problems.push(`cannot decrypt: ${e.message}`);
    return null;
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const at_ms = Date.now();
    const name = decodeURIComponent(req.url.replace(/^\/push\//, ''));
    const device = devices[name];
    if (!device) {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.concat(chunks);
    const problems = [];
    checkHeaders(req, body, problems);
    await checkVapid(req, `http://127.0.0.1:${server.address().port}`, problems);
    const plain = decrypt(device, body, problems);
    const reply = device.replies[Math.min(device.seen, device.replies.length - 1)];
    device.seen += 1;
    const status = problems.length > 0 ? 400 : reply.status;
    fs.appendFileSync(logPath, JSON.stringify({
      device: name, at_ms, status, problems,
      payload: plain === null ? null : plain.toString('utf8'),
      ttl: req.headers.ttl ?? null, urgency: req.headers.urgency ?? null,
      topic: req.headers.topic ?? null,
    }) + '\n');
    res.writeHead(status, problems.length > 0 ? {} : (reply.headers ?? {}));
    res.end(problems.join('\n'));
  });
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const out = { port, devices: {} };
  for (const [name, d] of Object.entries(devices)) {
    out.devices[name] = {
      endpoint: `http://127.0.0.1:${port}/push/${encodeURIComponent(name)}`,
      p256dh: b64u(d.ecdh.getPublicKey()), auth: b64u(d.auth),
    };
  }
  // Written whole and then renamed, so a reader never sees half a file.
  fs.writeFileSync(arg('--out') + '.tmp', JSON.stringify(out));
  fs.renameSync(arg('--out') + '.tmp', arg('--out'));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));

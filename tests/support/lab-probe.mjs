// Readiness probe for services of the network lab, run inside a namespace with plain `node`
// (no tsx: it starts in a tenth of the time): `node lab-probe.mjs '<json target>'`.
// Tries every 50 ms until the service answers (exit 0, prints what answered) or the deadline
// passes (exit 1, prints the last error). Targets:
//   { "kind": "tcp",  "host": "10.90.0.1", "port": 3478 }             a TCP connection is accepted
//   { "kind": "stun", "host": "10.90.0.1", "port": 3478 }             a STUN binding request is answered (UDP)
//   { "kind": "http", "url": "https://10.90.0.1:8443/", "ca": "ca.pem" } any HTTP answer, TLS verified against ca
// plus "timeoutMs" (default 15000).
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

const target = JSON.parse(process.argv[2] ?? '{}');
const deadline = Date.now() + (target.timeoutMs ?? 15_000);
const ATTEMPT_MS = 1_000;

function tcp() {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, timeout: ATTEMPT_MS });
    socket.once('connect', () => (socket.destroy(), resolve(`tcp ${target.host}:${target.port}`)));
    socket.once('timeout', () => (socket.destroy(), reject(new Error('connect timed out'))));
    socket.once('error', reject);
  });
}

function stun() {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const id = randomBytes(12);
    // Binding request: type 0x0001, length 0, the magic cookie, a transaction id.
    const message = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
    const timer = setTimeout(() => (socket.close(), reject(new Error('no STUN answer'))), ATTEMPT_MS);
    socket.on('message', (reply) => {
      if (reply.length >= 20 && reply.readUInt16BE(0) === 0x0101 && reply.subarray(8, 20).equals(id)) {
        clearTimeout(timer);
        socket.close();
        resolve(`stun ${target.host}:${target.port}`);
      }
    });
    socket.once('error', (error) => (clearTimeout(timer), socket.close(), reject(error)));
    socket.send(message, target.port, target.host);
  });
}

function http() {
  return new Promise((resolve, reject) => {
    const url = new URL(target.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const options = { timeout: ATTEMPT_MS, ...(target.ca ? { ca: readFileSync(target.ca) } : {}) };
    const req = request(url, options, (response) => {
      response.resume();
      resolve(`${response.statusCode} ${target.url}`);
    });
    req.once('timeout', () => req.destroy(new Error('request timed out')));
    req.once('error', reject);
    req.end();
  });
}

const attempt = { tcp, stun, http }[target.kind];
if (!attempt) {
  console.error(`unknown probe kind ${target.kind}`);
  process.exit(2);
}
for (;;) {
  try {
    console.log(await attempt());
    process.exit(0);
  } catch (error) {
    if (Date.now() > deadline) {
      console.error(`${JSON.stringify(target)}: ${error.message}`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

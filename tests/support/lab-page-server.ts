/**
 * A tiny web server for the network lab's own checks, run inside the server namespace
 * (`startLabPageServer` in lab-services.ts starts it): plain http and https on given ports.
 *
 *   GET /      a blank page, an origin for the browsers' WebRTC and secure-context checks
 *   GET /echo  what this server saw of the request: { remoteAddress, headers } as JSON
 *   GET /ws    a WebSocket upgrade answered with the same JSON as one text message, then closed:
 *              proof that a proxy in front passes upgrades and which X-Forwarded-For it sends
 *
 * Usage: node --import tsx tests/support/lab-page-server.ts '{"host":…,"httpPort":…,"httpsPort":…,"cert":…,"key":…}'
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { z } from 'zod';

const Options = z.object({
  host: z.string(),
  httpPort: z.number().int().positive().optional(),
  httpsPort: z.number().int().positive().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
});

const PAGE = '<!doctype html><meta charset="utf-8"><title>Peercloud network lab</title><p>network lab</p>';
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function seen(request: IncomingMessage): string {
  return JSON.stringify({ remoteAddress: request.socket.remoteAddress, headers: request.headers });
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  const path = new URL(request.url ?? '/', 'http://lab').pathname;
  if (path === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  else if (path === '/echo') response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(seen(request));
  else response.writeHead(404).end();
}

/** RFC 6455 handshake, then one unmasked text frame and a close frame. */
function upgrade(request: IncomingMessage, socket: Duplex): void {
  const key = request.headers['sec-websocket-key'];
  if (typeof key !== 'string' || new URL(request.url ?? '/', 'http://lab').pathname !== '/ws') {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const payload = Buffer.from(seen(request));
  const header = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  socket.write(Buffer.concat([header, payload, Buffer.from([0x88, 0x00])]));
  socket.end();
}

const options = Options.parse(JSON.parse(process.argv[2] ?? '{}'));
const servers: Server[] = [];
if (options.httpPort) servers.push(createHttpServer(handle).listen(options.httpPort, options.host));
if (options.httpsPort) {
  if (!options.cert || !options.key) throw new Error('httpsPort needs cert and key');
  servers.push(createHttpsServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) }, handle).listen(options.httpsPort, options.host));
}
for (const server of servers) server.on('upgrade', upgrade);
process.on('SIGTERM', () => {
  for (const server of servers) server.close();
  process.exit(0);
});

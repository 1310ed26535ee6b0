/**
 * A login by hand, for tests that need what the page's TrackerClient doesn't let them choose:
 * extra headers (a forged or proxied X-Forwarded-For), or a certificate authority to trust.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { io, type Socket } from 'socket.io-client';
import { exportPublicKey, generateIdentity, signChallenge } from '../../shared/identity.ts';
import { Challenge } from '../../shared/protocol.ts';

export interface RawOptions {
  headers?: Record<string, string>;
  /** PEM of a certificate (authority) to trust for https. */
  ca?: string;
}

/** GET with the given headers and CA; resolves with the status and parsed JSON body. */
export function getJson(url: string, options: RawOptions = {}): Promise<{ status: number; body: unknown }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: options.headers, ca: options.ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Logs a fresh identity in over a WebSocket; resolves with the connected socket, or rejects
 * with the tracker's refusal code.
 */
export async function rawJoin(url: string, options: RawOptions = {}): Promise<Socket> {
  const keys = await generateIdentity();
  const { body } = await getJson(`${url}/api/challenge`, options);
  const challenge = Challenge.parse(body);
  const auth = { publicKey: await exportPublicKey(keys.publicKey), nonce: challenge.nonce, signature: await signChallenge(keys.privateKey, challenge.nonce) };
  const socket = io(url, { transports: ['websocket'], reconnection: false, auth, extraHeaders: options.headers, ca: options.ca });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      reject(new Error(error.data?.code ?? error.message));
    });
  });
}

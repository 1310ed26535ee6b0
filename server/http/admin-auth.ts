import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`. Without a configured token the operator API does
 * not exist (404), so a tracker started without one exposes nothing by accident.
 */
export function requireAdmin(token: string | undefined): RequestHandler {
  const expected = token ? digest(token) : undefined;
  return (req, res, next) => {
    if (!expected) {
      res.status(404).json({ ok: false, code: 'NOT_FOUND', message: 'The operator API is disabled: set ADMIN_TOKEN to enable it.' });
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    // Compare digests: equal length, and the comparison time says nothing about the token.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ ok: false, code: 'UNAUTHORIZED', message: 'A valid admin token is required.' });
      return;
    }
    next();
  };
}

/**
 * `Authorization: Bearer <one of the tokens>` for an endpoint that is public without any token
 * configured (`/metrics` with METRICS_TOKEN, which the admin token also opens).
 */
export function requireTokenIfSet(tokens: readonly (string | undefined)[], required: boolean): RequestHandler {
  const expected = tokens.filter((token): token is string => token !== undefined).map(digest);
  return (req, res, next) => {
    if (!required) return next();
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    const given = match ? digest(match[1]!) : undefined;
    if (!given || !expected.some((token) => timingSafeEqual(given, token))) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ ok: false, code: 'UNAUTHORIZED', message: 'A valid metrics token is required.' });
      return;
    }
    next();
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

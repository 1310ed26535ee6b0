import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/** Structured JSON logs. Never log file content or keys: ids, sizes and reasons only. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'peercloud-tracker' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });

import type { Clock } from '../../server/clock.ts';

/** A clock that only moves when the test says so (real time is its starting point). */
export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

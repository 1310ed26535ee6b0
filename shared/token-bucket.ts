/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. Pure: the caller keeps the
 * bucket and passes the time, so it is tested without a clock.
 */
export interface Bucket {
  tokens: number;
  at: number;
}

export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/** Takes one token if there is one; the bucket is updated in place (it is per connection, hot). */
export function take(bucket: Bucket, now: number, rate: number, burst: number): boolean {
  const elapsed = Math.max(0, now - bucket.at) / 1000;
  bucket.tokens = Math.min(burst, bucket.tokens + elapsed * rate);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

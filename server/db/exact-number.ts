/**
 * PostgreSQL's bigint and numeric come from `pg` as text, so that no precision is lost
 * silently. Everything the tracker stores fits in 2^53: byte counts are refused above
 * Number.MAX_SAFE_INTEGER at the protocol's boundary, and ms timestamps reach 2^53 in the year
 * 287396. So they become plain numbers, and a value a number cannot hold exactly (a sum that
 * overflowed 2^53, say) makes its query fail instead of coming back rounded.
 */
export function parseExactNumber(text: string): number {
  const value = Number(text);
  const exact = /^-?\d+$/.test(text) ? Number.isSafeInteger(value) : text.trim() !== '' && Number.isFinite(value);
  if (!exact) throw new RangeError(`the database returned ${text}, which a JavaScript number cannot hold exactly`);
  return value;
}

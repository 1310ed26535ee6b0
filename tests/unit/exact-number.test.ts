import { describe, expect, it } from 'vitest';
import { parseExactNumber } from '../../server/db/exact-number.ts';

describe("PostgreSQL's bigint and numeric as numbers", () => {
  it.each([
    ['0', 0],
    ['-42', -42],
    ['1796152099776', 1_796_152_099_776],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['-9007199254740991', -Number.MAX_SAFE_INTEGER],
    ['1.5', 1.5],
    ['2.0000000000000000', 2],
  ])('reads %s as %d', (text, value) => {
    expect(parseExactNumber(text)).toBe(value);
  });

  it.each(['9007199254740992', '-9007199254740993', '123456789012345678901234567890', 'NaN', 'Infinity', ''])('refuses %j rather than round it', (text) => {
    expect(() => parseExactNumber(text)).toThrow(RangeError);
  });
});

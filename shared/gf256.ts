/**
 * Arithmetic in GF(2^8) and the systematic Reed–Solomon matrix built on it, written with
 * log/exp and full multiplication tables so the hot loop is one table look-up and one XOR
 * per byte. The field (polynomial 0x11D, generator 2) and the matrix construction
 * (a Vandermonde matrix multiplied by the inverse of its top square, so that the top k rows
 * become the identity) are the ones of Backblaze's JavaReedSolomon, klauspost/reedsolomon
 * and the Rust `reed-solomon-erasure` crate: parity computed here is byte-identical to
 * theirs, which the unit tests check against the WASM build of the Rust crate.
 */

/** x^8 + x^4 + x^3 + x^2 + 1, the usual choice for RS over bytes. */
const POLYNOMIAL = 0x11d;

/** At most this many shards in all: the Vandermonde rows are the 256 field elements. */
export const GF256_MAX_SHARDS = 256;

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= POLYNOMIAL;
  }
  // Doubled so that EXP[LOG[a] + LOG[b]] needs no modulo.
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero in GF(256)');
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

export function gfPow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a]! * n) % 255]!;
}

/**
 * MUL[c * 256 + x] = c·x. 64 KiB: the inner loops take the 256-byte row of a coefficient and
 * then cost one look-up per byte. Each row is built the first time it is asked for: the page and
 * the tracker import this module at start-up (for the schemes' limits) and most never code a
 * fragment, so they should not pay 65,536 multiplications for it.
 */
const MUL = new Uint8Array(256 * 256);
const MUL_BUILT = new Uint8Array(256);

/** The 256-byte table of multiplication by `c`. */
export function mulRow(c: number): Uint8Array {
  const row = MUL.subarray(c * 256, c * 256 + 256);
  if (MUL_BUILT[c] === 0) {
    for (let x = 0; x < 256; x++) row[x] = gfMul(c, x);
    MUL_BUILT[c] = 1;
  }
  return row;
}

/** A matrix over GF(256), rows of equal length. */
export type Matrix = Uint8Array[];

export function identity(size: number): Matrix {
  return Array.from({ length: size }, (_, r) => {
    const row = new Uint8Array(size);
    row[r] = 1;
    return row;
  });
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  const inner = b.length;
  const cols = b[0]?.length ?? 0;
  return a.map((rowA) => {
    const out = new Uint8Array(cols);
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let i = 0; i < inner; i++) sum ^= gfMul(rowA[i]!, b[i]![c]!);
      out[c] = sum;
    }
    return out;
  });
}

/** Gauss–Jordan inversion; throws when the matrix is singular (never for RS sub-matrices). */
export function invert(matrix: Matrix): Matrix {
  const size = matrix.length;
  const work = matrix.map((row) => Uint8Array.from(row));
  const inverse = identity(size);
  for (let col = 0; col < size; col++) {
    let pivot = col;
    while (pivot < size && work[pivot]![col] === 0) pivot++;
    if (pivot === size) throw new RangeError('singular matrix');
    if (pivot !== col) {
      [work[col], work[pivot]] = [work[pivot]!, work[col]!];
      [inverse[col], inverse[pivot]] = [inverse[pivot]!, inverse[col]!];
    }
    const scale = gfDiv(1, work[col]![col]!);
    scaleRow(work[col]!, scale);
    scaleRow(inverse[col]!, scale);
    for (let r = 0; r < size; r++) {
      const factor = work[r]![col]!;
      if (r === col || factor === 0) continue;
      addScaledRow(work[r]!, work[col]!, factor);
      addScaledRow(inverse[r]!, inverse[col]!, factor);
    }
  }
  return inverse;
}

function scaleRow(row: Uint8Array, c: number): void {
  for (let i = 0; i < row.length; i++) row[i] = gfMul(row[i]!, c);
}

function addScaledRow(target: Uint8Array, source: Uint8Array, c: number): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= gfMul(source[i]!, c);
}

/**
 * The (k + m) × k encoding matrix: rows 0..k−1 are the identity (the code is systematic,
 * data fragments are the data), rows k.. give the parity. Any k of its rows are independent,
 * which is what lets any k fragments rebuild the rest.
 */
export function encodingMatrix(k: number, m: number): Matrix {
  const vandermonde: Matrix = Array.from({ length: k + m }, (_, r) => Uint8Array.from({ length: k }, (_, c) => gfPow(r, c)));
  return multiply(vandermonde, invert(vandermonde.slice(0, k)));
}

/**
 * The multiplication table of `c` widened to 32-bit entries, for the word loop below
 * (1 KiB each, built on first use: a code uses a handful of coefficients).
 */
const MUL_WORDS: (Int32Array | undefined)[] = Array.from({ length: 256 }, () => undefined);
function mulRowWords(c: number): Int32Array {
  return (MUL_WORDS[c] ??= Int32Array.from(mulRow(c)));
}

/** Bytes coded per pass over all inputs and outputs: a block of each stays in cache while it is used k·m times. */
const BLOCK_BYTES = 16 * 1024;

/**
 * outputs[o] = Σ_i coefficients[o][i] · inputs[i], byte by byte over `length` bytes.
 *
 * Measured on Node 20 while writing it (a byte loop, 16-bit tables, words): reading and
 * writing 32-bit words and looking up their four bytes in a 256-entry table is about 2.5×
 * faster in V8 than a byte loop, and as fast as 64K-entry 16-bit tables without their
 * 128 KiB per coefficient. Each byte stays in its own
 * lane, so the result does not depend on endianness. Arrays whose offset is not a multiple
 * of 4 cannot be viewed as words and take the byte loop.
 */
export function codeShards(coefficients: Matrix, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], length: number): void {
  const aligned = [...inputs, ...outputs].every((array) => array.byteOffset % 4 === 0);
  const wordEnd = aligned ? length >>> 2 : 0;
  if (wordEnd > 0) {
    const inWords = inputs.map((array) => new Int32Array(array.buffer, array.byteOffset, wordEnd));
    const outWords = outputs.map((array) => new Int32Array(array.buffer, array.byteOffset, wordEnd));
    const block = BLOCK_BYTES / 4;
    for (let start = 0; start < wordEnd; start += block) {
      const end = Math.min(wordEnd, start + block);
      for (let o = 0; o < outWords.length; o++) {
        const row = coefficients[o]!;
        const out = outWords[o]!;
        for (let i = 0; i < inWords.length; i++) combineWords(out, inWords[i]!, row[i]!, i === 0, start, end);
      }
    }
  }
  // The bytes after the last whole word, or everything when the arrays are not aligned.
  const byteStart = wordEnd * 4;
  for (let start = byteStart; start < length; start += BLOCK_BYTES) {
    const end = Math.min(length, start + BLOCK_BYTES);
    for (let o = 0; o < outputs.length; o++) {
      const row = coefficients[o]!;
      const out = outputs[o]!;
      for (let i = 0; i < inputs.length; i++) combineBytes(out, inputs[i]!, row[i]!, i === 0, start, end);
    }
  }
}

/** out = c·input (first) or out ^= c·input, over words [start, end). */
function combineWords(out: Int32Array, input: Int32Array, c: number, first: boolean, start: number, end: number): void {
  if (c === 0) {
    if (first) out.fill(0, start, end);
  } else if (c === 1) {
    if (first) out.set(input.subarray(start, end), start);
    else for (let w = start; w < end; w++) out[w]! ^= input[w]!;
  } else {
    const t = mulRowWords(c);
    if (first) {
      for (let w = start; w < end; w++) {
        const v = input[w]!;
        out[w] = t[v & 255]! | (t[(v >>> 8) & 255]! << 8) | (t[(v >>> 16) & 255]! << 16) | (t[v >>> 24]! << 24);
      }
    } else {
      for (let w = start; w < end; w++) {
        const v = input[w]!;
        out[w]! ^= t[v & 255]! | (t[(v >>> 8) & 255]! << 8) | (t[(v >>> 16) & 255]! << 16) | (t[v >>> 24]! << 24);
      }
    }
  }
}

/** The same over bytes [start, end). */
function combineBytes(out: Uint8Array, input: Uint8Array, c: number, first: boolean, start: number, end: number): void {
  if (c === 0) {
    if (first) out.fill(0, start, end);
  } else if (c === 1) {
    if (first) out.set(input.subarray(start, end), start);
    else for (let b = start; b < end; b++) out[b]! ^= input[b]!;
  } else {
    const t = mulRow(c);
    if (first) for (let b = start; b < end; b++) out[b] = t[input[b]!]!;
    else for (let b = start; b < end; b++) out[b]! ^= t[input[b]!]!;
  }
}

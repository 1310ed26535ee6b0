/**
 * A QR code as one SVG path, drawn by the page itself: no image service, no inline style or
 * script (the page's Content-Security-Policy allows neither), crisp at any size.
 */
import { encode } from 'uqr';

/** Dark modules as a path: one rectangle per horizontal run of them. */
export function modulesPath(modules: readonly (readonly boolean[])[]): string {
  const parts: string[] = [];
  modules.forEach((row, y) => {
    for (let x = 0; x < row.length; ) {
      if (!row[x]) {
        x++;
        continue;
      }
      let run = 1;
      while (row[x + run]) run++;
      parts.push(`M${x} ${y}h${run}v1h-${run}z`);
      x += run;
    }
  });
  return parts.join('');
}

/** The QR code of `text` (medium error correction, a quiet zone of two modules). */
export function qrCode(text: string): { size: number; path: string } {
  const { size, data } = encode(text, { ecc: 'M', border: 2 });
  return { size, path: modulesPath(data) };
}

/**
 * A name a file can be saved under on any system. The name people see stays what they
 * chose (shown literally, never as HTML); only the name handed to the browser's download
 * is cleaned: no path separators or traversal, no control or bidirectional-override
 * characters (which can disguise "exe.txt" as "txt.exe"), no names Windows reserves.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f<>:"/\\|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;
const MAX_LENGTH = 200;

const BIDI_CONTROLS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * A name as shown on the page: literally, except that invisible direction controls are made
 * visible, so that "invoice‮fdp.exe" can't pass for "invoiceexe.pdf".
 */
export function visibleName(name: string): string {
  return name.replace(BIDI_CONTROLS, (char) => `⟨U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

export function safeFileName(name: string): string {
  let safe = name.replace(UNSAFE, '_').replace(/^[.\s]+|[.\s]+$/g, '');
  if (RESERVED.test(safe)) safe = `_${safe}`;
  if (safe.length > MAX_LENGTH) {
    const dot = safe.lastIndexOf('.');
    const extension = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : '';
    safe = safe.slice(0, MAX_LENGTH - extension.length) + extension;
  }
  return safe || 'download';
}

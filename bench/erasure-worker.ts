/**
 * The erasure benchmark inside a browser worker, where the codec will run: bench/erasure.ts
 * bundles this file with Vite (as the page's workers are) and runs it in headless Chromium.
 * Wall-clock time here (a page has no CPU clock); the rounds' best is reported.
 */
import { measureSchemes, type RateOptions } from './erasure-core.ts';

interface Request {
  schemes: [number, number][];
  options: RateOptions;
}

self.onmessage = (event: MessageEvent<Request>) => {
  try {
    const results = measureSchemes(event.data.schemes, () => performance.now(), event.data.options);
    self.postMessage({ ok: true, results });
  } catch (error) {
    self.postMessage({ ok: false, message: String(error) });
  }
};

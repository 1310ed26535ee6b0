/**
 * Encode and decode throughput of the erasure codec (shared/erasure.ts) for each scheme of
 * bench/erasure-core.ts, in Node and, with --chromium, in a worker of headless Chromium.
 *
 *   flock /tmp/peercloud-e2e.lock node --import tsx bench/erasure.ts [--chromium] [--json]
 *
 * Prints a table, or with --json the figures (bench/report.ts's Figure) as JSON on stdout.
 * ERASURE_ROUNDS (default 7) and ERASURE_ROUND_MS (default 400) adjust the measurement.
 *
 * In Node the clock is the process's CPU time, in Chromium the wall clock; either way the
 * best round is reported, since the machine's shared cores only ever slow a round down.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { BENCH_SCHEMES, measureSchemes, STRIPE_BYTES, type RateOptions, type SchemeRates } from './erasure-core.ts';
import type { Figure } from './report.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function options(): RateOptions {
  return { rounds: Number(process.env.ERASURE_ROUNDS ?? 7), roundMs: Number(process.env.ERASURE_ROUND_MS ?? 400) };
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export function measureErasureInNode(): SchemeRates[] {
  return measureSchemes(BENCH_SCHEMES, cpuMs, options());
}

/** The worker bundled by Vite, as the page's own workers are: proof that it bundles, and the code measured. */
async function bundleWorker(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'peercloud-erasure-bench-'));
  try {
    await build({
      configFile: false,
      logLevel: 'warn',
      root,
      build: {
        outDir,
        emptyOutDir: true,
        minify: true,
        lib: { entry: join(root, 'bench/erasure-worker.ts'), formats: ['es'], fileName: () => 'erasure-worker.js' },
      },
    });
    return readFileSync(join(outDir, 'erasure-worker.js'), 'utf8');
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Runs the measurement in a module worker of a page of `browser` (nothing goes on the network). */
export async function measureErasureInChromium(browser: Browser): Promise<SchemeRates[]> {
  const code = await bundleWorker();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // A page of its own origin, served by Playwright itself: no server, no port.
    await page.route('http://erasure.bench/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>erasure bench</title>' }));
    await page.goto('http://erasure.bench/');
    const answer = await page.evaluate(
      ({ code, schemes, options }) =>
        new Promise<{ ok: true; results: SchemeRates[] } | { ok: false; message: string }>((resolve) => {
          const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' });
          worker.onmessage = (event) => {
            worker.terminate();
            resolve(event.data);
          };
          worker.onerror = (event) => resolve({ ok: false, message: event.message });
          worker.postMessage({ schemes, options });
        }),
      { code, schemes: BENCH_SCHEMES.map(([k, m]) => [k, m]), options: options() },
    );
    if (!answer.ok) throw new Error(`erasure benchmark in Chromium: ${answer.message}`);
    return answer.results;
  } finally {
    await context.close();
  }
}

export function toFigures(rates: SchemeRates[], where: string): Figure[] {
  return rates.flatMap(({ k, m, encode, decode }) => [
    { name: `rs:${k}+${m} encode, ${where}`, value: round(encode.best), unit: 'MB/s' as const, runs: encode.runs.map(round) },
    { name: `rs:${k}+${m} decode ${Math.min(k, m)} lost, ${where}`, value: round(decode.best), unit: 'MB/s' as const, runs: decode.runs.map(round) },
  ]);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A markdown table of encode and decode MB/s per scheme, one pair of columns per place measured. */
export function erasureTable(columns: [string, SchemeRates[]][]): string {
  const header = `| scheme | fragment bytes | ${columns.map(([where]) => `encode MB/s, ${where} | decode MB/s, ${where}`).join(' | ')} |`;
  const rule = `| --- | ---: | ${columns.map(() => '---: | ---:').join(' | ')} |`;
  const rows = columns[0]![1].map((scheme, i) => {
    const cells = columns.map(([, rates]) => `${rates[i]!.encode.best.toFixed(0)} | ${rates[i]!.decode.best.toFixed(0)}`);
    return `| rs:${scheme.k}+${scheme.m} | ${scheme.fragmentBytes} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const inChromium = process.argv.includes('--chromium');
  const columns: [string, SchemeRates[]][] = [['Node', measureErasureInNode()]];
  if (inChromium) {
    const executablePath = findChromium();
    if (!executablePath) throw new Error(CHROMIUM_HELP);
    const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, '--headless'] });
    try {
      columns.push([`Chromium ${browser.version()} worker`, await measureErasureInChromium(browser)]);
    } finally {
      await browser.close();
    }
  }
  if (json) {
    console.log(JSON.stringify(columns.flatMap(([where, rates]) => toFigures(rates, where.startsWith('Chromium') ? 'Chromium worker' : where)), null, 2));
  } else {
    console.log(`Stripe: ${STRIPE_BYTES} bytes (a sealed 1 MiB chunk); best of ${options().rounds} rounds; MB = 10^6 bytes.\n`);
    console.log(erasureTable(columns));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();

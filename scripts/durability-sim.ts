/**
 * Monte Carlo check of the durability model (shared/durability.ts, docs/DURABILITY.md).
 *
 *   node --import tsx scripts/durability-sim.ts [--set check|table|grace|model] [--runs N] [--seed 1] [--horizon-days D] [--json]
 *
 * One file at a time: its k + m (or R) pieces on distinct hosts. Each host alternates online
 * and offline sessions (exponential, mean online SESSION, mean offline set by the availability
 * p) and leaves for good after an exponential lifetime; its piece goes with it. A run ends when
 * fewer than k pieces exist (the file is lost) or at the horizon. Measured: the fraction of
 * time at least k pieces are on online hosts (readable at a random moment), the time to loss,
 * the pieces stored on average, and the repairs.
 *
 * Two kinds of repair are simulated:
 * - "model": what the Markov chain assumes. Repair is due as soon as the pieces that exist fall
 *   to the threshold (an oracle: nobody can tell a departure from a long absence), completes
 *   after an exponential delay of mean grace + repair time even if few hosts are online, and
 *   brings the file back to n pieces. The chain's figures must fall in the simulation's
 *   confidence interval here.
 * - "system": what the tracker can do (server/repairs.ts, issue 12 item 5). A piece counts while
 *   its host is online or has been offline less than the grace; repair is due when the counted
 *   pieces fall to the threshold, starts only when k pieces are online at once, takes a fixed
 *   time, and places new pieces on fresh online hosts until n are counted. A piece whose host
 *   comes back after the grace counts again and is kept (today's repair never removes extras).
 *
 * Time is in hours. Seeded (sfc32), so a run is reproducible.
 */
import { fileURLToPath } from 'node:url';
import { readableProbability, readableWithRepair, storageOverhead, timeToLoss } from '../shared/durability.ts';

export interface Scenario {
  label: string;
  k: number;
  n: number;
  /** Repair is due at this many pieces or fewer. */
  threshold: number;
  /** Fraction of the time a host is online. */
  availability: number;
  /** Mean online session, hours. */
  sessionHours: number;
  /** Mean peer lifetime before it leaves for good, hours. */
  lifetimeHours: number;
  graceHours: number;
  repairHours: number;
  mode: 'model' | 'system';
  /**
   * System only: what becomes of a piece whose host returns after the grace when n pieces are
   * already counted. 'keep' is today's repair (nothing removes a surplus replica); 'drop'
   * deletes it, so the file stays at about n pieces.
   */
  surplus?: 'keep' | 'drop';
}

export interface SimResult {
  runs: number;
  losses: number;
  /** Mean time to loss and its 95 % confidence half-width, hours. */
  timeToLoss: { mean: number; halfWidth: number; censored: boolean };
  readable: { mean: number; halfWidth: number };
  /** Pieces existing on average (storage = this / k per byte of file). */
  meanPieces: number;
  repairsPerDay: number;
}

/** sfc32: small, fast, and good enough for a simulation; seeded for reproducible runs. */
export function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

interface Host {
  online: boolean;
  departed: boolean;
  /** When the current session ends. */
  toggleAt: number;
  departAt: number;
  offlineSince: number;
}

function simulateFile(s: Scenario, horizon: number, random: () => number) {
  const exp = (mean: number) => -mean * Math.log(1 - random());
  const offlineMean = s.availability >= 1 ? Infinity : (s.sessionHours * (1 - s.availability)) / s.availability;
  // Always-online hosts never end a session.
  const onlineMean = s.availability >= 1 ? Infinity : s.sessionHours;
  // The system places pieces on peers online at the time (upload, repair); the model takes
  // every host's state as independent of the file's history, online with probability p.
  const newHost = (now: number): Host => {
    const online = s.mode === 'system' || random() < s.availability;
    return { online, departed: false, toggleAt: now + exp(online ? onlineMean : offlineMean), departAt: now + exp(s.lifetimeHours), offlineSince: online ? now : -Infinity };
  };
  const hosts: Host[] = Array.from({ length: s.n }, () => newHost(0));
  let now = 0;
  let readableTime = 0;
  let pieceTime = 0;
  let repairs = 0;
  let repairDoneAt = Infinity;

  const existing = () => hosts.reduce((count, h) => count + (h.departed ? 0 : 1), 0);
  const onlineCount = () => hosts.reduce((count, h) => count + (h.online && !h.departed ? 1 : 0), 0);
  // What the tracker counts: online, or offline within the grace (it cannot see departures).
  // Always offlineSince + grace compared with now, the same sum as the event time, so that
  // rounding cannot leave a grace forever about to run out.
  const counted = () => hosts.reduce((count, h) => count + (h.online || now < h.offlineSince + s.graceHours ? 1 : 0), 0);
  const due = () => (s.mode === 'model' ? existing() : counted()) <= s.threshold;

  const maybeStartRepair = () => {
    if (repairDoneAt !== Infinity || !due()) return;
    if (s.mode === 'model') repairDoneAt = now + exp(s.graceHours + s.repairHours);
    else if (onlineCount() >= s.k) repairDoneAt = now + s.repairHours;
  };
  const finishRepair = () => {
    repairDoneAt = Infinity;
    repairs++;
    if (s.mode === 'model') {
      // Departed hosts' pieces are replaced: n pieces exist again.
      for (let i = 0; i < hosts.length; i++) if (hosts[i]!.departed) hosts[i] = newHost(now);
      while (hosts.length < s.n) hosts.push(newHost(now));
    } else {
      // A returning host's piece counts again, so only the counted pieces are topped up to n.
      let missing = s.n - counted();
      while (missing-- > 0) hosts.push(newHost(now));
    }
    maybeStartRepair();
  };

  while (now < horizon) {
    // The next thing to happen: a session ending, a departure, a grace running out, a repair.
    let next = Math.min(horizon, repairDoneAt);
    for (const h of hosts) {
      // A grace running out changes what the tracker counts, departed host or not.
      if (s.mode === 'system' && !h.online && now < h.offlineSince + s.graceHours) next = Math.min(next, h.offlineSince + s.graceHours);
      if (!h.departed) next = Math.min(next, h.toggleAt, h.departAt);
    }
    const dt = next - now;
    if (onlineCount() >= s.k) readableTime += dt;
    pieceTime += existing() * dt;
    now = next;
    if (now >= horizon) break;
    if (now === repairDoneAt) finishRepair();
    for (const h of hosts) {
      if (h.departed) continue;
      if (h.departAt <= now) {
        h.departed = true;
        if (h.online) h.offlineSince = now;
        h.online = false;
      } else if (h.toggleAt <= now) {
        const returning = !h.online && now >= h.offlineSince + s.graceHours;
        h.online = !h.online;
        if (!h.online) h.offlineSince = now;
        h.toggleAt = now + exp(h.online ? onlineMean : offlineMean);
        // counted() includes this host again now; beyond n, its piece is surplus.
        if (s.mode === 'system' && s.surplus === 'drop' && returning && counted() > s.n) {
          h.departed = true;
          h.online = false;
        }
      }
    }
    if (existing() < s.k) return { lost: true, life: now, readableTime, pieceTime, repairs };
    // A departed host no longer matters once the tracker has stopped counting it.
    for (let i = hosts.length - 1; i >= 0; i--) if (hosts[i]!.departed && now >= hosts[i]!.offlineSince + s.graceHours) hosts.splice(i, 1);
    maybeStartRepair();
  }
  return { lost: false, life: horizon, readableTime, pieceTime, repairs };
}

/** Runs `runs` files independently; 95 % intervals from the spread between files. */
export function simulate(s: Scenario, options: { runs: number; seed: number; horizonHours: number }): SimResult {
  const random = sfc32(options.seed);
  const lives: number[] = [];
  const readable: number[] = [];
  let losses = 0;
  let pieceTime = 0;
  let repairs = 0;
  for (let run = 0; run < options.runs; run++) {
    const outcome = simulateFile(s, options.horizonHours, random);
    lives.push(outcome.life);
    readable.push(outcome.readableTime);
    if (outcome.lost) losses++;
    pieceTime += outcome.pieceTime;
    repairs += outcome.repairs;
  }
  const totalTime = lives.reduce((sum, t) => sum + t, 0);
  // Readable fraction as a ratio of sums, with the delta method's variance.
  const ratio = readable.reduce((sum, r) => sum + r, 0) / totalTime;
  const meanLife = totalTime / lives.length;
  const residuals = lives.map((t, i) => readable[i]! - ratio * t);
  const residualVariance = residuals.reduce((sum, r) => sum + r * r, 0) / (lives.length - 1);
  const readableHalf = (1.96 * Math.sqrt(residualVariance / lives.length)) / meanLife;
  let timeToLossMean: number;
  let timeToLossHalf: number;
  const censored = losses < options.runs;
  if (!censored) {
    const variance = lives.reduce((sum, t) => sum + (t - meanLife) ** 2, 0) / (lives.length - 1);
    timeToLossMean = meanLife;
    timeToLossHalf = 1.96 * Math.sqrt(variance / lives.length);
  } else {
    // Some files outlived the horizon: the exponential estimate, total time / losses.
    timeToLossMean = losses > 0 ? totalTime / losses : Infinity;
    timeToLossHalf = losses > 0 ? (1.96 * timeToLossMean) / Math.sqrt(losses) : Infinity;
  }
  return {
    runs: options.runs,
    losses,
    timeToLoss: { mean: timeToLossMean, halfWidth: timeToLossHalf, censored },
    readable: { mean: ratio, halfWidth: readableHalf },
    meanPieces: pieceTime / totalTime,
    repairsPerDay: (repairs / totalTime) * 24,
  };
}

/** The chain's figures for a scenario: μ = 1 / (grace + repair time), λ = 1 / lifetime. */
export function modelFor(s: Scenario) {
  const model = { k: s.k, n: s.n, departureRate: 1 / s.lifetimeHours, repairRate: 1 / (s.graceHours + s.repairHours), repairThreshold: s.threshold };
  return { timeToLoss: timeToLoss(model).meanTimeToLoss, readable: readableWithRepair(model, s.availability), overhead: storageOverhead(s.k, s.n) };
}

/** The schemes of issue 12 and the two docs/DURABILITY.md proposes; threshold k + 1 for rs (the issue's default), n − 1 for replicate (today's repair). */
export const SCHEMES: readonly { label: string; k: number; n: number; threshold: number }[] = [
  { label: 'replicate:2', k: 1, n: 2, threshold: 1 },
  { label: 'replicate:3', k: 1, n: 3, threshold: 2 },
  { label: 'rs:4+2', k: 4, n: 6, threshold: 5 },
  { label: 'rs:6+3', k: 6, n: 9, threshold: 7 },
  { label: 'rs:3+7', k: 3, n: 10, threshold: 4 },
  { label: 'rs:4+4', k: 4, n: 8, threshold: 5 },
  { label: 'rs:4+8', k: 4, n: 12, threshold: 5 },
];

/**
 * "check": scenarios where files are lost often enough to measure: peers live 2 days on
 * average and repair takes an hour, so that a few hundred files give tight intervals in
 * seconds. The chain depends on λ and μ only through μ/λ, so this checks the same mathematics
 * as the slower churn of the table.
 *
 * "table": the churn assumed in docs/DURABILITY.md until the tracker's own figures replace it
 * (peers live 30 days, online sessions of 8 hours, a working day), with the settings it
 * recommends: a 12-hour grace, repair at n − 1, surplus pieces dropped; 45 minutes to repair.
 * Losses are too rare to count there; what the simulation adds is what the system really
 * stores and how often it repairs.
 *
 * "grace": the same churn at p = 0.7, surplus kept (today) or dropped, grace 15 min or 12 h.
 */
export function scenarios(set: 'check' | 'table' | 'grace'): Scenario[] {
  const list: Scenario[] = [];
  if (set === 'check') {
    for (const mode of ['model', 'system'] as const) {
      for (const availability of [0.7, 0.9]) {
        for (const scheme of SCHEMES.slice(0, 5)) list.push({ ...scheme, availability, sessionHours: 3, lifetimeHours: 48, graceHours: 0.25, repairHours: 0.75, mode });
      }
    }
  } else if (set === 'table') {
    for (const availability of [0.5, 0.7, 0.9]) {
      for (const scheme of SCHEMES) {
        list.push({ ...scheme, threshold: scheme.n - 1, availability, sessionHours: 8, lifetimeHours: 30 * 24, graceHours: 12, repairHours: 0.75, mode: 'system', surplus: 'drop' });
      }
    }
  } else {
    for (const surplus of ['keep', 'drop'] as const) {
      for (const graceHours of [0.25, 12]) {
        for (const scheme of SCHEMES.filter(({ label }) => ['replicate:2', 'rs:4+2', 'rs:4+4'].includes(label))) {
          list.push({ ...scheme, availability: 0.7, sessionHours: 8, lifetimeHours: 30 * 24, graceHours, repairHours: 0.75, mode: 'system', surplus });
        }
      }
    }
  }
  return list;
}

function formatHours(hours: number): string {
  if (!Number.isFinite(hours)) return '∞';
  if (hours < 48) return `${hours.toFixed(1)} h`;
  if (hours < 24 * 730) return `${(hours / 24).toFixed(1)} d`;
  const years = hours / 24 / 365;
  return years < 10_000 ? `${years.toFixed(1)} y` : `${years.toExponential(1)} y`;
}

/** 0.9876, or 1 − 2.0e-5 when four decimals would round to 1. */
function formatProbability(value: number): string {
  return value < 0.99995 ? value.toFixed(4) : value === 1 ? '1' : `1 − ${(1 - value).toExponential(1)}`;
}

/**
 * The model alone, for docs/DURABILITY.md's main table: readable with every piece there
 * (binomial), readable over the file's life with repair, and mean time to loss, for peers
 * living 30 days (and 7) and a repair 12 h 45 min after a loss (a 12-hour grace, longer than
 * a night away, and 45 minutes of repair).
 */
function printModelTable(): void {
  const day = 24;
  const ps = [0.5, 0.7, 0.9, 0.99];
  const repairRate = 1 / 12.75;
  const model = (k: number, n: number, lifetimeDays: number, repairThreshold: number) => ({ k, n, departureRate: 1 / (lifetimeDays * day), repairRate, repairThreshold });
  console.log(
    `| scheme | storage overhead | ${ps.map((p) => `readable, p = ${p}`).join(' | ')} | readable with repair at n − 1, p = 0.7 | time to loss, repair at k + 1 | repair at n − 1 | repair at n − 1, peers living 7 d |`,
  );
  console.log(`| --- | ---: | ${ps.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: |`);
  for (const { label, k, n, threshold } of SCHEMES) {
    const loss = (lifetimeDays: number, repairThreshold: number) => formatHours(timeToLoss(model(k, n, lifetimeDays, repairThreshold)).meanTimeToLoss);
    console.log(
      `| ${label} | ${storageOverhead(k, n).toFixed(2)} | ${ps.map((p) => formatProbability(readableProbability(k, n, p))).join(' | ')} | ${formatProbability(readableWithRepair(model(k, n, 30, n - 1), 0.7))} | ${k === 1 ? '(same)' : loss(30, threshold)} | ${loss(30, n - 1)} | ${loss(7, n - 1)} |`,
    );
  }
  // Where a code at the same storage as replicate:2 (or 3) starts to be readable more often.
  for (const [k, n, copies] of [
    [4, 8, 2],
    [3, 6, 2],
    [2, 4, 2],
    [4, 12, 3],
    [2, 6, 3],
  ] as const) {
    let low = 0.01;
    let high = 0.99;
    for (let i = 0; i < 60; i++) {
      const mid = (low + high) / 2;
      if (readableProbability(k, n, mid) < readableProbability(1, copies, mid)) low = mid;
      else high = mid;
    }
    console.log(`\nrs:${k}+${n - k} is readable more often than replicate:${copies} above p = ${high.toFixed(3)}`);
  }
}

function main(): void {
  const argument = (name: string, fallback: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index >= 0 ? process.argv[index + 1]! : fallback;
  };
  const set = argument('set', 'check') as 'check' | 'table' | 'grace' | 'model';
  if (!['check', 'table', 'grace', 'model'].includes(set)) throw new Error('--set is check, table, grace or model');
  if (set === 'model') {
    printModelTable();
    return;
  }
  const runs = Number(argument('runs', set === 'check' ? '200' : '60'));
  const seed = Number(argument('seed', '1'));
  const horizonHours = Number(argument('horizon-days', set === 'check' ? '730' : '120')) * 24;
  const rows = scenarios(set).map((scenario, i) => ({ scenario, model: modelFor(scenario), result: simulate(scenario, { runs, seed: seed + i, horizonHours }) }));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const first = rows[0]!.scenario;
  console.log(
    `--set ${set}: ${runs} files per row over at most ${formatHours(horizonHours)}, seed ${seed}; peers live ${formatHours(first.lifetimeHours)}, sessions ${first.sessionHours} h, repair ${first.repairHours * 60} min; 95 % intervals (✗: the model is outside).\n`,
  );
  console.log('| repair | surplus | p | grace | scheme | readable, model | readable, simulated | time to loss, model | time to loss, simulated | losses | pieces stored (n) | storage overhead, simulated (n/k) | repairs per file-day |');
  console.log('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { scenario: sc, model, result: r } of rows) {
    const outside = (value: number, mean: number, half: number) => (Math.abs(value - mean) <= half ? '' : ' ✗');
    const simulatedLoss = r.losses === 0 ? `> ${formatHours((r.runs * horizonHours) / 3)} (none)` : `${formatHours(r.timeToLoss.mean)} ± ${formatHours(r.timeToLoss.halfWidth)}${outside(model.timeToLoss, r.timeToLoss.mean, r.timeToLoss.halfWidth)}`;
    console.log(
      `| ${sc.mode} | ${sc.mode === 'model' ? '' : (sc.surplus ?? 'keep')} | ${sc.availability} | ${sc.graceHours * 60} min | ${sc.label} | ${model.readable.toFixed(4)} | ${r.readable.mean.toFixed(4)} ± ${r.readable.halfWidth.toFixed(4)}${outside(model.readable, r.readable.mean, r.readable.halfWidth)} | ${formatHours(model.timeToLoss)} | ${simulatedLoss} | ${r.losses}/${r.runs} | ${r.meanPieces.toFixed(2)} (${sc.n}) | ${(r.meanPieces / sc.k).toFixed(2)} (${model.overhead.toFixed(2)}) | ${r.repairsPerDay.toFixed(2)} |`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();

/**
 * What a host has earned, as opposed to what it claims. A new identity costs nothing, so what
 * it says of itself (capacity) is believed only up to a newcomer's allowance; beyond that, a
 * host is credited with what it has proven it holds (audited replicas, counted in full once
 * held for a while), grown by a factor so that a good host can keep taking more. Owners, in
 * turn, may store about as much as they give.
 */

export interface EarningPolicy {
  /** Capacity credited to anyone, proven or not. */
  newcomerSpace: number;
  /** Each proven byte held earns this many bytes of credited capacity. */
  growth: number;
  /** A replica counts fully as proven once held this long (less before, in proportion). */
  maturityMs: number;
}

export interface VettingPolicy {
  /** Audits passed before a host stops being new. */
  audits: number;
  /** And the time since it first appeared. */
  periodMs: number;
}

export interface OwnerPolicy {
  /** Bytes of copies anyone may have stored, hosting or not. */
  allowance: number;
  /** Each proven byte an owner hosts for others lets it store this many. */
  ratio: number;
}

/** The capacity a host is credited with: what it offers, up to what it has earned. */
export function effectiveCapacity(claimed: number, proven: number, policy: EarningPolicy): number {
  return Math.max(0, Math.min(claimed, policy.newcomerSpace + Math.floor(policy.growth * proven)));
}

/** How much of a proven replica counts, for how long it has been held. */
export function provenWeight(heldForMs: number, maturityMs: number): number {
  if (maturityMs <= 0) return 1;
  return Math.max(0, Math.min(1, heldForMs / maturityMs));
}

export function isVetted(host: { firstSeen: number; auditsPassed: number }, now: number, policy: VettingPolicy): boolean {
  return host.auditsPassed >= policy.audits && now - host.firstSeen >= policy.periodMs;
}

/** Bytes of copies an owner may have stored or reserved in the cloud. */
export function ownerAllowance(provenHosted: number, policy: OwnerPolicy): number {
  return policy.allowance + Math.floor(policy.ratio * provenHosted);
}

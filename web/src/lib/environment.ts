/**
 * Whether this browser, at this address, can run Peercloud at all. Browsers give
 * `crypto.subtle`, `navigator.storage`, Web Locks and the origin-private file system only to
 * secure contexts (https, or localhost): opened at http://192.168.1.10:3000 the page would
 * crash on its first use of one. So the page checks first, and says what is wrong in words.
 *
 * Pure: `probeEnvironment` reads the browser, `environmentProblem` decides.
 */

/** An API the page cannot work without, and its name as people find it in browser docs. */
export const REQUIRED_APIS = {
  subtleCrypto: 'Web Crypto (crypto.subtle)',
  webLocks: 'Web Locks (navigator.locks)',
  storageManager: 'the Storage API (navigator.storage)',
  originPrivateFileSystem: 'the origin-private file system (navigator.storage.getDirectory)',
  indexedDb: 'IndexedDB',
  webRtc: 'WebRTC (RTCPeerConnection)',
  webSocket: 'WebSocket',
} as const;
export type RequiredApi = keyof typeof REQUIRED_APIS;

export interface EnvironmentProbe {
  secureContext: boolean;
  /** The page's own address. */
  href: string;
  available: Record<RequiredApi, boolean>;
}

export type EnvironmentProblem =
  | {
      kind: 'insecure';
      /** The address as opened. */
      openedAt: string;
      /** The same page over https. */
      httpsUrl: string;
      /** The address that works on the tracker's own machine. */
      localhostUrl: string;
    }
  | { kind: 'missing'; apis: string[] };

export function environmentProblem(probe: EnvironmentProbe): EnvironmentProblem | undefined {
  if (!probe.secureContext) {
    const url = new URL(probe.href);
    const https = new URL(url.href);
    https.protocol = 'https:';
    // The tracker serves https on the same port when it has a certificate (TLS_CERT).
    const localhost = new URL(url.href);
    localhost.hostname = 'localhost';
    return { kind: 'insecure', openedAt: url.origin, httpsUrl: https.origin + '/', localhostUrl: localhost.origin + '/' };
  }
  const apis = (Object.keys(REQUIRED_APIS) as RequiredApi[]).filter((api) => !probe.available[api]).map((api) => REQUIRED_APIS[api]);
  return apis.length > 0 ? { kind: 'missing', apis } : undefined;
}

/** Reads what this browser offers, without using any of it. */
export function probeEnvironment(scope: typeof globalThis = globalThis): EnvironmentProbe {
  const navigator = scope.navigator as Navigator | undefined;
  const storage = navigator?.storage as StorageManager | undefined;
  return {
    secureContext: scope.isSecureContext === true,
    href: scope.location.href,
    available: {
      subtleCrypto: typeof scope.crypto?.subtle?.digest === 'function',
      webLocks: typeof navigator?.locks?.request === 'function',
      storageManager: typeof storage?.estimate === 'function' && typeof storage.persisted === 'function',
      originPrivateFileSystem: typeof storage?.getDirectory === 'function',
      indexedDb: typeof scope.indexedDB?.open === 'function',
      webRtc: typeof scope.RTCPeerConnection === 'function',
      webSocket: typeof scope.WebSocket === 'function',
    },
  };
}

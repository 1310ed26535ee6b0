/**
 * The one module that touches IndexedDB (through idb-keyval). Each concern has its own
 * database so that clearing one (say, hosted data) never risks another (the identity).
 */
import { createStore, del, delMany, entries, get, getMany, set, setMany, update, type UseStore } from 'idb-keyval';

const stores = {
  identity: () => createStore('peercloud-identity', 'identity'),
  settings: () => createStore('peercloud-settings', 'settings'),
  hostedReplicas: () => createStore('peercloud-hosted-replicas', 'replicas'),
  hostedChunks: () => createStore('peercloud-hosted-chunks', 'chunks'),
  fileKeys: () => createStore('peercloud-file-keys', 'keys'),
  uploads: () => createStore('peercloud-uploads', 'uploads'),
  downloads: () => createStore('peercloud-downloads', 'downloads'),
};

const opened = new Map<keyof typeof stores, UseStore>();
function store(name: keyof typeof stores): UseStore {
  let handle = opened.get(name);
  if (!handle) opened.set(name, (handle = stores[name]()));
  return handle;
}

/** A store of one record per file, keyed by its file id: what an unfinished transfer keeps. */
function perFileStore<T extends { fileId: string }>(name: 'uploads' | 'downloads') {
  return {
    all: async (): Promise<T[]> => (await entries<string, T>(store(name))).map(([, record]) => record),
    get: (fileId: string) => get<T>(fileId, store(name)),
    put: (record: T) => set(record.fileId, record, store(name)),
    remove: (fileId: string) => del(fileId, store(name)),
  };
}

// ─── Identity ─────────────────────────────────────────────────────────────────

export interface StoredIdentity {
  /** CryptoKeys are stored as they are: IndexedDB keeps a non-extractable key non-extractable. */
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The private key again, exportable only through the vault: what a recovery kit carries. */
  wrappedPrivateKey: WrappedKey;
  createdAt: number;
}

export const identityStore = {
  load: () => get<StoredIdentity>('peer', store('identity')),
  save: (identity: StoredIdentity) => set('peer', identity, store('identity')),
  /** The vault key: AES-GCM, not extractable, wraps every key that must be exportable later. */
  loadVault: () => get<CryptoKey>('vault', store('identity')),
  saveVault: (key: CryptoKey) => set('vault', key, store('identity')),
};

// ─── Settings ─────────────────────────────────────────────────────────────────

export interface Settings {
  /** Bytes this peer offers to host. */
  capacity?: number;
  /** The person has seen the first-run welcome and closed it. */
  welcomed?: boolean;
}

export const settingsStore = {
  load: async (): Promise<Settings> => (await get<Settings>('settings', store('settings'))) ?? {},
  /** Changes some settings, keeping the others (in one transaction: concerns save independently). */
  save: (changes: Settings) => update<Settings>('settings', (settings) => ({ ...settings, ...changes }), store('settings')),
};

// ─── Hosted replicas (other people's sealed chunks) ────────────────────────────

export interface HostedReplica {
  fileId: string;
  /** Bytes the sealed chunks occupy. */
  bytes: number;
  size: number;
  chunkSize: number;
  chunkCount: number;
  /** Chunks written and verified so far, from the first: where a resumed upload continues. */
  received: number;
  /** 'receiving' until every chunk was written and verified. */
  state: 'receiving' | 'stored';
  /** Root hash of the chunk hashes, once verified. */
  root: string | null;
  createdAt: number;
  /** The file's k, and which of its n fragments this is (absent: a whole copy, k = 1). */
  k?: number;
  fragment?: number;
}

export interface HostedChunk {
  /** Blobs: IndexedDB writes them several times faster than ArrayBuffers. */
  data: Blob;
  /** SHA-256 of the sealed bytes, hex. */
  sha256: string;
}

type ChunkKey = [fileId: string, index: number];

export const hostedStore = {
  replicas: async (): Promise<HostedReplica[]> => (await entries<string, HostedReplica>(store('hostedReplicas'))).map(([, replica]) => replica),
  replica: (fileId: string) => get<HostedReplica>(fileId, store('hostedReplicas')),
  saveReplica: (replica: HostedReplica) => set(replica.fileId, replica, store('hostedReplicas')),

  /** Writes a batch of chunks in one transaction. */
  putChunks: (fileId: string, chunks: { index: number; chunk: HostedChunk }[]) =>
    setMany(
      chunks.map(({ index, chunk }) => [[fileId, index] satisfies ChunkKey, chunk]),
      store('hostedChunks'),
    ),
  chunk: (fileId: string, index: number) => get<HostedChunk>([fileId, index] satisfies ChunkKey, store('hostedChunks')),
  chunks: (fileId: string, indexes: number[]) =>
    getMany<HostedChunk | undefined>(
      indexes.map((index) => [fileId, index] satisfies ChunkKey),
      store('hostedChunks'),
    ),

  /** Deletes a replica's chunks, then its record. */
  async remove(fileId: string): Promise<void> {
    const replica = await get<HostedReplica>(fileId, store('hostedReplicas'));
    const count = replica?.chunkCount ?? 0;
    const keys: ChunkKey[] = Array.from({ length: count }, (_, index) => [fileId, index]);
    for (let at = 0; at < keys.length; at += 1000) await delMany(keys.slice(at, at + 1000), store('hostedChunks'));
    await del(fileId, store('hostedReplicas'));
  },
};

/** What hosting needs from storage: passed in, so that tests and faults can stand in for it. */
export type HostedStore = typeof hostedStore;

// ─── The owner's file keys (wrapped by the vault key) ─────────────────────────

export interface WrappedKey {
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

export const fileKeyStore = {
  get: (fileId: string) => get<WrappedKey>(fileId, store('fileKeys')),
  put: (fileId: string, key: WrappedKey) => set(fileId, key, store('fileKeys')),
  remove: (fileId: string) => del(fileId, store('fileKeys')),
  all: () => entries<string, WrappedKey>(store('fileKeys')),
};

// ─── Transfers a reload may interrupt ─────────────────────────────────────────

/** An upload under way: enough to recognise the file when the person picks it again. */
export interface UploadIntent {
  fileId: string;
  name: string;
  size: number;
  lastModified: number;
  chunkSize: number;
}

export const uploadStore = perFileStore<UploadIntent>('uploads');

/** A download under way: its decrypted chunks before `next` are on disk already. */
export interface DownloadProgress {
  fileId: string;
  name: string;
  next: number;
  count: number;
}

export const downloadStore = perFileStore<DownloadProgress>('downloads');

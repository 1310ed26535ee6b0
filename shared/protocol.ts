/**
 * The one protocol between the tracker and its peers, typed once and used by both sides.
 *
 * Every client → server event is a request with an ack: its payload is parsed by the
 * schema in `clientRequests` before any handler sees it, and its answer is an
 * `Ack<T>` whose data is described by `clientResponses`. Every server → client event
 * has a schema in `serverEvents`, which the web client parses too.
 *
 * Event names are `entity:verb`. File bytes never travel here: they go peer to peer
 * over WebRTC data channels, and this protocol only carries their signaling.
 */
import { z } from 'zod';
import { ERROR_CODES, type Ack } from './errors.ts';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './chunking.ts';
import { PEER_ID_LENGTH } from './identity.ts';

// ─── Primitives ────────────────────────────────────────────────────────────────

export const PeerId = z.string().regex(new RegExp(`^[a-z2-7]{${PEER_ID_LENGTH}}$`), 'must be a peer id');
/** Random 128-bit ids in base32 (26 characters): files and transfers. */
export const ObjectId = z.string().regex(/^[a-z2-7]{26}$/, 'must be a 26-character id');
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256');
/** A byte count: an integer, never negative, NaN or infinite. */
export const ByteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const Timestamp = z.number().int().nonnegative();

export const MAX_FILE_NAME_LENGTH = 255;
/** Control characters (NUL included) have no business in a file name and break terminals and file systems. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
export const FileName = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_FILE_NAME_LENGTH, `must be at most ${MAX_FILE_NAME_LENGTH} characters`)
  .refine((name) => !CONTROL_CHARACTERS.test(name), 'must not contain control characters');

export const ChunkSize = z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE);

export const ErrorCode = z.enum(ERROR_CODES);

/** Why a transfer ended badly, closed like ErrorCode so the page can say it in words. */
export const TRANSFER_ERROR_CODES = [
  'PEER_GONE', // the other side disconnected
  'TIMEOUT', // no progress for too long
  'REJECTED', // the host refused and no other host could take it
  'INTEGRITY', // bytes failed their hash or authentication
  'CONNECTION', // the WebRTC connection could not be made or broke
  'STORAGE', // a side could not read or write its storage
  'CANCELLED', // a person or the tracker stopped it
  'INTERNAL',
] as const;
export const TransferErrorCode = z.enum(TRANSFER_ERROR_CODES);
export type TransferErrorCode = z.infer<typeof TransferErrorCode>;

/** Why a host refused a storage request. Each one counts as a rejection against it. */
export const RejectReason = z.enum(['no_space', 'busy', 'quota', 'error']);
export type RejectReason = z.infer<typeof RejectReason>;

const ShortText = z.string().max(500);

// ─── Shared shapes ─────────────────────────────────────────────────────────────

export const Scores = z.object({
  trust: z.number().int().min(1).max(5),
  dynamism: z.number().int().min(1).max(5),
  availability: z.number().int().min(1).max(5),
});

/** What a peer is told about itself. */
export const PeerStatus = z.object({
  id: PeerId,
  level: z.number().int().min(1).max(5),
  scores: Scores,
  metrics: z.object({
    capacity: ByteCount,
    disconnections: z.number().int().nonnegative(),
    rejections: z.number().int().nonnegative(),
    /** Times this host served data that failed verification (they count against availability too). */
    integrityFailures: z.number().int().nonnegative(),
  }),
  used: ByteCount,
  reserved: ByteCount,
  free: z.number().int(),
});
export type PeerStatus = z.infer<typeof PeerStatus>;

export const FileState = z.enum(['uploading', 'interrupted', 'stored', 'failed']);
export type FileState = z.infer<typeof FileState>;

/** An owner's view of one of its files. Where it lives stays hidden: only counts. */
export const FileSummary = z.object({
  id: ObjectId,
  name: FileName,
  size: ByteCount,
  createdAt: Timestamp,
  state: FileState,
  replicas: z.object({
    wanted: z.number().int().nonnegative(),
    /** Replicas whose bytes a host verified. */
    stored: z.number().int().nonnegative(),
    /** Stored replicas whose host is online now. */
    online: z.number().int().nonnegative(),
    /** Store transfers still under way. */
    pending: z.number().int().nonnegative(),
    /** Repairs under way: new copies being made from a live one. */
    repairing: z.number().int().nonnegative(),
  }),
  /** When a repair last brought the file back to its wanted replicas. */
  repairedAt: Timestamp.nullable(),
});
export type FileSummary = z.infer<typeof FileSummary>;

export const IceServer = z.object({
  urls: z.union([z.string().max(500), z.array(z.string().max(500)).max(10)]),
  username: z.string().max(500).optional(),
  credential: z.string().max(500).optional(),
});
export type IceServer = z.infer<typeof IceServer>;

/** Settings the tracker hands to each peer, so one configuration drives the whole cloud. */
export const ClientConfig = z.object({
  chunkSize: ChunkSize,
  replicas: z.number().int().positive(),
  iceServers: z.array(IceServer),
  /** A transfer with no progress for this long is failed by the tracker. */
  transferIdleTimeoutMs: z.number().int().positive(),
  /** A host takes at most this many transfers at once and rejects the rest as busy. */
  maxHostTransfers: z.number().int().positive(),
  /** The largest message the tracker accepts, in bytes. */
  maxMessageBytes: z.number().int().positive(),
  /** The address other devices should open to join this cloud (unset: the page's own origin). */
  publicUrl: z.string().url().max(500).optional(),
});
export type ClientConfig = z.infer<typeof ClientConfig>;

/** simple-peer's signal payloads, bounded so signaling can't be used to move bulk data. */
export const SignalData = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['offer', 'answer', 'pranswer', 'rollback']), sdp: z.string().max(32_000) }),
  z.object({
    type: z.literal('candidate'),
    candidate: z.object({
      candidate: z.string().max(2_000),
      sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
      sdpMid: z.string().max(64).nullable().optional(),
      usernameFragment: z.string().max(256).nullable().optional(),
    }),
  }),
  z.object({ type: z.literal('renegotiate'), renegotiate: z.literal(true) }),
]);
export type SignalData = z.infer<typeof SignalData>;

export const TransferKind = z.enum(['store', 'fetch', 'repair']);
export type TransferKind = z.infer<typeof TransferKind>;

/**
 * A transfer as one of its two peers sees it. The responder gets it in `transfer:open`
 * and must accept or reject; the initiator gets it in `transfer:ready` once the
 * responder is listening, and starts the WebRTC connection.
 */
export const TransferOffer = z.object({
  transferId: ObjectId,
  kind: TransferKind,
  /** Whether this peer sends or receives the bytes. */
  role: z.enum(['sender', 'receiver']),
  fileId: ObjectId,
  /** Plaintext size and chunking: enough to know every chunk's sealed length. */
  size: ByteCount,
  chunkSize: ChunkSize,
  /** Bytes the replica occupies: the sealed chunks. */
  bytes: ByteCount,
  /** Root hash of the sealed chunks once the owner has sealed the file. */
  sha256: Sha256Hex.nullable(),
});
export type TransferOffer = z.infer<typeof TransferOffer>;

export const TransferEnded = z.object({
  transferId: ObjectId,
  fileId: ObjectId,
  kind: TransferKind,
  ok: z.boolean(),
  code: TransferErrorCode.optional(),
  message: ShortText,
});
export type TransferEnded = z.infer<typeof TransferEnded>;

// ─── Client → server requests ──────────────────────────────────────────────────

const FileRef = z.strictObject({ fileId: ObjectId });
const TransferRef = z.strictObject({ transferId: ObjectId });
const Empty = z.strictObject({});

/** The largest inventory page a host sends at once (keeps each message small). */
export const INVENTORY_PAGE = 500;

export const clientRequests = {
  /** A peer states what it offers and what its storage holds. Answered with its status and the cloud's settings. */
  'peer:report': z.strictObject({ capacity: ByteCount, used: ByteCount }),
  /**
   * A host lists the replicas it holds, a page at a time, `last` on the final page: with the root
   * it verified (complete) or null (partial). The tracker answers those it must drop and, after
   * the last page, forgets the replicas this host no longer has.
   */
  'host:inventory': z.strictObject({
    replicas: z.array(z.strictObject({ fileId: ObjectId, root: Sha256Hex.nullable() })).max(INVENTORY_PAGE),
    last: z.boolean(),
  }),
  /** The owner asks for a file to be placed. */
  'file:place': z.strictObject({ name: FileName, size: ByteCount, chunkSize: ChunkSize }),
  /** The owner states the root hash of the sealed chunks it sent, once it has sent them all. */
  'file:seal': z.strictObject({ fileId: ObjectId, sha256: Sha256Hex }),
  'file:list': Empty,
  /** The owner resumes an interrupted upload: its partial replicas continue where they stopped. */
  'file:resume': FileRef,
  /** The owner asks for its file back: the tracker opens a fetch transfer from an online host. */
  'file:locate': FileRef,
  'file:delete': FileRef,
  'transfer:accept': TransferRef,
  'transfer:reject': z.strictObject({ transferId: ObjectId, reason: RejectReason, message: ShortText.optional() }),
  'transfer:signal': z.strictObject({ transferId: ObjectId, signal: SignalData }),
  /** Either side says bytes are moving, which keeps the transfer from expiring. */
  'transfer:progress': z.strictObject({ transferId: ObjectId, bytes: ByteCount }),
  /** Either side gives up on a transfer, with the reason. */
  'transfer:fail': z.strictObject({ transferId: ObjectId, code: TransferErrorCode, message: ShortText }),
  /** The receiver of a fetch has every byte, verified. */
  'transfer:finish': TransferRef,
  /** The receiving host has written and verified every chunk; sha256 is the root it computed. */
  'replica:stored': z.strictObject({ transferId: ObjectId, sha256: Sha256Hex }),
} as const;

const Nothing = z.object({});

export const clientResponses = {
  'peer:report': z.object({ peer: PeerStatus, config: ClientConfig }),
  'host:inventory': z.object({ drop: z.array(ObjectId) }),
  'file:place': z.object({ file: FileSummary, transferIds: z.array(ObjectId) }),
  'file:seal': z.object({ file: FileSummary }),
  'file:resume': z.object({ file: FileSummary, transferIds: z.array(ObjectId) }),
  'file:list': z.object({ files: z.array(FileSummary) }),
  'file:locate': z.object({ transferId: ObjectId }),
  'file:delete': Nothing,
  'transfer:accept': Nothing,
  'transfer:reject': Nothing,
  'transfer:signal': Nothing,
  'transfer:progress': Nothing,
  'transfer:fail': Nothing,
  'transfer:finish': Nothing,
  'replica:stored': z.object({ file: FileSummary.pick({ id: true, state: true }) }),
} as const satisfies Record<keyof typeof clientRequests, z.ZodType>;

export type ClientRequestName = keyof typeof clientRequests;
export type ClientRequest<K extends ClientRequestName> = z.input<(typeof clientRequests)[K]>;
export type ParsedClientRequest<K extends ClientRequestName> = z.output<(typeof clientRequests)[K]>;
export type ClientResponse<K extends ClientRequestName> = z.output<(typeof clientResponses)[K]>;

export type ClientToServer = {
  [K in ClientRequestName]: (request: ClientRequest<K>, ack: (result: Ack<ClientResponse<K>>) => void) => void;
};

// ─── Server → client events ────────────────────────────────────────────────────

export const serverEvents = {
  /** The peer's own level, scores and space, whenever one of them changes. */
  'peer:status': PeerStatus,
  'cloud:stats': z.object({ peersOnline: z.number().int().nonnegative() }),
  /** To the responder of a transfer: accept or reject it. */
  'transfer:open': TransferOffer,
  /** To the initiator of a transfer: the responder is listening, connect now. */
  'transfer:ready': TransferOffer,
  'transfer:signal': z.object({ transferId: ObjectId, signal: SignalData }),
  'transfer:ended': TransferEnded,
  /** To an owner: one of its files changed (state, replicas online). */
  'file:updated': FileSummary,
  'file:removed': z.object({ fileId: ObjectId }),
  /** To a host: these replicas are no longer wanted; delete them. */
  'replica:drop': z.object({ fileIds: z.array(ObjectId) }),
} as const;

export type ServerEventName = keyof typeof serverEvents;
export type ServerEvent<K extends ServerEventName> = z.output<(typeof serverEvents)[K]>;

export type ServerToClient = {
  [K in ServerEventName]: (payload: ServerEvent<K>) => void;
};

/** An ack as it arrives at the client, parsed before use like everything else. */
export function ackSchema<K extends ClientRequestName>(name: K): z.ZodType<Ack<ClientResponse<K>>> {
  // The union is built per request name; TypeScript can't follow the generic through it.
  return z.union([
    z.object({ ok: z.literal(true), data: clientResponses[name] }),
    z.object({ ok: z.literal(false), code: ErrorCode, message: z.string() }),
  ]) as unknown as z.ZodType<Ack<ClientResponse<K>>>;
}

// ─── Handshake ─────────────────────────────────────────────────────────────────

/** `GET /api/challenge` answers a fresh single-use nonce to sign. */
export const Challenge = z.object({ nonce: z.string().min(16).max(128), expiresAt: Timestamp });
export type Challenge = z.infer<typeof Challenge>;

/** Socket.IO `auth` payload: the identity and its signature over the nonce. */
export const HandshakeAuth = z.strictObject({
  publicKey: z.string().min(80).max(100),
  nonce: z.string().min(16).max(128),
  signature: z.string().min(80).max(100),
});
export type HandshakeAuth = z.infer<typeof HandshakeAuth>;

/** Formats the first schema issue as "field: problem", the message a malformed request gets. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid message';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

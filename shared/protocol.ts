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
import { AUDIT_BLOCK_BYTES } from './merkle.ts';

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
export const ChunkIndex = z.number().int().nonnegative().max(2 ** 31);
/** Binary data (Socket.IO carries it as an attachment: a Buffer in Node, a Uint8Array or ArrayBuffer in browsers). */
export const Bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array || value instanceof ArrayBuffer, 'must be binary data').transform((value) => (value instanceof ArrayBuffer ? new Uint8Array(value) : value));

export const ErrorCode = z.enum(ERROR_CODES);

/** A k-of-n scheme (shared/redundancy.ts): any k of n fragments give a file back. */
export const SchemeShape = z.object({ k: z.number().int().min(1).max(64), n: z.number().int().min(1).max(64) });

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
  /** Credited capacity − used − reserved: what the tracker may still place here. */
  free: z.number().int(),
  /** Bytes of other peers' replicas this peer has proven it holds (audited), weighted by how long. */
  proven: ByteCount,
  /** The capacity trust is scored on: the offer, up to a newcomer's allowance plus what was proven. */
  credited: ByteCount,
  /** Whether it has passed enough audits for long enough to be trusted with any copy. */
  vetted: z.boolean(),
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
  /** Its scheme: any k of its n fragments give it back (k = 1: n whole copies; `replicas` counts fragments). */
  scheme: SchemeShape,
  /**
   * When it was read, on the database's clock (ms; 0: not read, as a placement committed it).
   * With several trackers an owner hears of one file from each, in any order: the page keeps
   * the one read last (shared/file-summary-order.ts).
   */
  readAt: z.number().nonnegative(),
});
export type FileSummary = z.infer<typeof FileSummary>;

export const IceServer = z.object({
  urls: z.union([z.string().max(500), z.array(z.string().max(500)).max(10)]),
  username: z.string().max(500).optional(),
  credential: z.string().max(500).optional(),
});
export type IceServer = z.infer<typeof IceServer>;

/** ICE servers for this peer: static STUN/TURN, and TURN relays with credentials made for it. */
export const IceGrant = z.object({
  iceServers: z.array(IceServer).max(20),
  /** When the TURN credentials in it stop working; ask `peer:ice` again before. Null: nothing expires. */
  expiresAt: Timestamp.nullable(),
});
export type IceGrant = z.infer<typeof IceGrant>;

/** Settings the tracker hands to each peer, so one configuration drives the whole cloud. */
export const ClientConfig = z.object({
  chunkSize: ChunkSize,
  /** Fragments a new file is stored as with the first scheme (whole copies when it is replicate:R). */
  replicas: z.number().int().positive(),
  /** How files are kept, in order of preference (shared/redundancy.ts). */
  redundancy: z.array(SchemeShape).min(1).max(8),
  /** Static STUN/TURN servers and TURN relays with credentials made for this peer. */
  iceServers: IceGrant.shape.iceServers,
  /** When the TURN credentials in `iceServers` stop working: `peer:ice` gives fresh ones. Null: nothing expires. */
  iceExpiresAt: IceGrant.shape.expiresAt,
  /** How long two peers try to open their data channel before the transfer fails with CONNECTION. */
  connectTimeoutMs: z.number().int().positive(),
  /** The address other devices should open to join this cloud, when the tracker knows a better one than the page's own. */
  publicUrl: z.url({ protocol: /^https?$/ }).max(500).optional(),
  /** A transfer with no progress for this long is failed by the tracker. */
  transferIdleTimeoutMs: z.number().int().positive(),
  /** A host takes at most this many transfers at once and rejects the rest as busy. */
  maxHostTransfers: z.number().int().positive(),
  /** The largest message the tracker accepts, in bytes. */
  maxMessageBytes: z.number().int().positive(),
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
  /** Bytes the fragment occupies on its host (the sealed chunks, cut in k). */
  bytes: ByteCount,
  /** The root of this fragment once sealed, for the side that sends it and the owner; a store's receiver learns it from what it receives. */
  sha256: Sha256Hex.nullable(),
  /** The file's scheme and the fragment this transfer moves (0 for whole copies… or their index). */
  k: z.number().int().min(1).max(64),
  n: z.number().int().min(1).max(64),
  fragment: z.number().int().min(0).max(63),
  /**
   * A repair of a k > 1 file: the host rebuilding fragment `fragment` takes k such transfers of
   * the same group, one from each source fragment, and decodes its own from them.
   */
  rebuild: z.object({ group: ObjectId, fragment: z.number().int().min(0).max(63), sources: z.number().int().min(1).max(64) }).optional(),
});
export type TransferOffer = z.infer<typeof TransferOffer>;

/** How a transfer ended: done, or failed with a code and the tracker's words for it (never the other peer's). */
export const TransferEnded = z.discriminatedUnion('ok', [
  z.object({ transferId: ObjectId, fileId: ObjectId, kind: TransferKind, ok: z.literal(true) }),
  z.object({ transferId: ObjectId, fileId: ObjectId, kind: TransferKind, ok: z.literal(false), code: TransferErrorCode, message: ShortText }),
]);
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
  /** Fresh ICE servers (TURN credentials expire): asked before the last ones do. */
  'peer:ice': Empty,
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
  /**
   * The owner states the roots of what it sent, once it has them all: the root of the sealed
   * chunks (whole copies, `sha256`) or of each of the n fragments (`roots`).
   */
  'file:seal': z.union([z.strictObject({ fileId: ObjectId, sha256: Sha256Hex }), z.strictObject({ fileId: ObjectId, roots: z.array(Sha256Hex).min(2).max(64) })]),
  'file:list': Empty,
  /** The owner resumes an interrupted upload: its partial replicas continue where they stopped. */
  'file:resume': FileRef,
  /**
   * The owner asks for its file back: the tracker opens fetches of k fragments from online hosts
   * (one for whole copies). `exclude` and `count`: more fragments than those already being read.
   */
  'file:locate': z.strictObject({ fileId: ObjectId, exclude: z.array(z.number().int().min(0).max(63)).max(64).optional(), count: z.number().int().min(1).max(64).optional() }),
  'file:delete': FileRef,
  'transfer:accept': TransferRef,
  'transfer:reject': z.strictObject({ transferId: ObjectId, reason: RejectReason, message: ShortText.optional() }),
  'transfer:signal': z.strictObject({ transferId: ObjectId, signal: SignalData }),
  /** Either side says bytes are moving, which keeps the transfer from expiring. */
  'transfer:progress': z.strictObject({ transferId: ObjectId, bytes: ByteCount }),
  /** Either side gives up on a transfer, with the reason. */
  /**
   * Either side gives up on a transfer, with the reason. `chunk` names the chunk that failed
   * verification when the code is INTEGRITY: the tracker checks the accusation with an audit.
   * The message goes to the tracker's logs only, never to the other peer.
   */
  'transfer:fail': z.strictObject({ transferId: ObjectId, code: TransferErrorCode, message: ShortText, chunk: ChunkIndex.optional() }),
  /** The receiver of a fetch has every byte, verified. */
  'transfer:finish': TransferRef,
  /** The receiving host has written and verified every chunk; sha256 is the root it computed. */
  'replica:stored': z.strictObject({ transferId: ObjectId, sha256: Sha256Hex }),
  /** A host proves it holds a block: the block itself and the hashes up to the replica's root (shared/merkle.ts). */
  'audit:answer': z.strictObject({
    auditId: ObjectId,
    block: Bytes.refine((bytes) => bytes.byteLength <= AUDIT_BLOCK_BYTES, `must be at most ${AUDIT_BLOCK_BYTES} bytes`),
    blockPath: z.array(Sha256Hex).max(16),
    chunkPath: z.array(Sha256Hex).max(40),
  }),
} as const;

const Nothing = z.object({});

export const clientResponses = {
  'peer:report': z.object({ peer: PeerStatus, config: ClientConfig }),
  'peer:ice': IceGrant,
  'host:inventory': z.object({ drop: z.array(ObjectId) }),
  'file:place': z.object({ file: FileSummary, transferIds: z.array(ObjectId) }),
  'file:seal': z.object({ file: FileSummary }),
  'file:resume': z.object({ file: FileSummary, transferIds: z.array(ObjectId) }),
  'file:list': z.object({ files: z.array(FileSummary) }),
  'file:locate': z.object({ transferId: ObjectId, transfers: z.array(z.object({ transferId: ObjectId, fragment: z.number().int().min(0).max(63) })).min(1) }),
  'file:delete': Nothing,
  'transfer:accept': Nothing,
  'transfer:reject': Nothing,
  'transfer:signal': Nothing,
  'transfer:progress': Nothing,
  'transfer:fail': Nothing,
  'transfer:finish': Nothing,
  'replica:stored': z.object({ file: FileSummary.pick({ id: true, state: true }) }),
  'audit:answer': z.object({ passed: z.boolean() }),
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
  /** To a host: prove you hold block `block` of chunk `chunk` of this replica, before AUDIT_TIMEOUT. */
  'audit:challenge': z.object({ auditId: ObjectId, fileId: ObjectId, chunk: ChunkIndex, block: z.number().int().nonnegative().max(1024) }),
  /**
   * Sent just before the tracker closes this connection for good, to say why when it is not the
   * usual reason: `flooding` (it kept sending past its request budget; it may connect again after
   * a pause). A close without it is the usual one: a newer connection of the same peer took over.
   */
  'session:closing': z.object({ reason: z.enum(['flooding']) }),
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

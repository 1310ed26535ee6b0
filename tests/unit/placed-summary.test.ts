import { describe, expect, it } from 'vitest';
import type { FileRow } from '../../server/db/schema.ts';
import { placedSummary } from '../../server/file-summaries.ts';

describe('placedSummary', () => {
  it('says what a placement committed: uploading, nothing stored, a store pending per transfer', () => {
    const file: FileRow = {
      id: 'f1',
      owner_id: 'o',
      name: 'a.txt',
      size: 1000,
      sha256: null,
      chunk_size: 65536,
      chunk_count: 1,
      stored_bytes: 1028,
      replicas_wanted: 8,
      scheme_k: 4,
      fragment_bytes: 260,
      created_at: 5,
      state: 'uploading',
      interrupted_at: null,
      repaired_at: null,
    };
    expect(placedSummary(file, 7)).toEqual({
      id: 'f1',
      name: 'a.txt',
      size: 1000,
      createdAt: 5,
      state: 'uploading',
      replicas: { wanted: 8, stored: 0, online: 0, pending: 7, repairing: 0 },
      repairedAt: null,
      scheme: { k: 4, n: 8 },
      // Not read: older than any summary read later.
      readAt: 0,
    });
  });
});

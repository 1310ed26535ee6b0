import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { MiB } from '../../shared/units.ts';
import { expect, sha256, test } from './fixtures/peers.ts';
import { E2E_TRACKER_DB } from './fixtures/settings.ts';

/** Every value in every IndexedDB database of the page, searched for each needle (as text and as UTF-8 bytes). */
async function searchIndexedDb(page: Page, needles: string[]): Promise<{ found: string[]; databases: string[]; values: number }> {
  return page.evaluate(async (needles) => {
    const encoded = needles.map((needle) => new TextEncoder().encode(needle));
    const contains = (bytes: Uint8Array, needle: Uint8Array) => {
      outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
        for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
        return true;
      }
      return false;
    };
    const found = new Set<string>();
    let values = 0;
    const visit = async (value: unknown): Promise<void> => {
      values++;
      if (typeof value === 'string') needles.forEach((needle) => value.includes(needle) && found.add(needle));
      else if (value instanceof Blob) await visit(new Uint8Array(await value.arrayBuffer()));
      else if (value instanceof ArrayBuffer) await visit(new Uint8Array(value));
      else if (ArrayBuffer.isView(value)) {
        const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        encoded.forEach((needle, k) => contains(bytes, needle) && found.add(needles[k]!));
      } else if (Array.isArray(value)) for (const item of value) await visit(item);
      else if (value && typeof value === 'object' && !(value instanceof CryptoKey)) for (const item of Object.values(value)) await visit(item);
    };
    const databases = (await indexedDB.databases()).map((info) => info.name!).filter(Boolean);
    for (const name of databases) {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const storeName of db.objectStoreNames) {
        const [keys, all] = await new Promise<[IDBValidKey[], unknown[]]>((resolve, reject) => {
          const store = db.transaction(storeName).objectStore(storeName);
          const keyRequest = store.getAllKeys();
          const valueRequest = store.getAll();
          valueRequest.onsuccess = () => resolve([keyRequest.result, valueRequest.result]);
          valueRequest.onerror = () => reject(valueRequest.error);
        });
        await visit(keys);
        await visit(all);
      }
      db.close();
    }
    return { found: [...found], databases, values };
  }, needles);
}

test('hosts hold ciphertext only and no names; the tracker never sees the content', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(3);
  const marker = `PEERCLOUD-MARKER-${randomBytes(8).toString('hex')}`;
  const name = `medical-records-${randomBytes(4).toString('hex')}.txt`;
  // The marker many times over, in every chunk, in plain text.
  const buffer = Buffer.from(`${marker}\n`.repeat(Math.ceil((3 * MiB) / (marker.length + 1))));
  await owner!.upload({ name, buffer });
  await owner!.waitStored(name, 'Stored on 2 of 2 peers');
  const fileId = (await operator.file(name, await owner!.id()))!.id;

  for (const host of hosts) {
    const scan = await searchIndexedDb(host!.page, [marker, name, fileId]);
    // The scan reads the hosted data: it finds the file's id, so it would find the rest if it were there.
    expect(scan.databases).toContain('peercloud-hosted-chunks');
    expect(scan.found).toEqual([fileId]);
  }

  const dbPath = E2E_TRACKER_DB;
  const trackerBytes = Buffer.concat([dbPath, `${dbPath}-wal`].filter(existsSync).map((path) => readFileSync(path)));
  expect(trackerBytes.includes(name)).toBe(true); // the tracker knows names (it lists them to their owner)…
  expect(trackerBytes.includes(marker)).toBe(false); // …never content.

  // And the owner still reads it.
  expect((await owner!.download(name)).sha256).toBe(sha256(buffer));
});

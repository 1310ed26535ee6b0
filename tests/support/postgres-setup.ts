/**
 * Vitest's globalSetup of the `integration-pg` project: one throw-away PostgreSQL cluster for
 * the whole run, with a template database already migrated, so that each test gets a fresh
 * database of its own by copying the template (CREATE DATABASE … TEMPLATE: about 15 ms, where
 * migrating a new database or schema takes about 100 ms).
 */
import type { TestProject } from 'vitest/node';
import { migrate, openDatabase } from '../../server/db/database.ts';
import { startPostgresCluster, withClient } from './postgres.ts';
import { TEMPLATE_DATABASE } from './test-database.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPostgresCluster();
  try {
    await withClient(cluster.url('postgres'), (client) => client.query(`create database ${TEMPLATE_DATABASE}`));
    const template = openDatabase({ dbPath: '', databaseUrl: cluster.url(TEMPLATE_DATABASE) });
    try {
      await migrate(template.db);
    } finally {
      // A template with a connection open can't be copied.
      await template.close();
    }
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  project.provide('postgresAdminUrl', cluster.url('postgres'));
  return () => cluster.stop();
}

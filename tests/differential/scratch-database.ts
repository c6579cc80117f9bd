// The throwaway database the differential check runs statements on: owned by a plain role (no superuser, so a
// statement cannot reach the server's files or other sessions), with the observer installed by the superuser.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { OBSERVER_SETUP, observerGrants } from './observer.js';

export const SCRATCH = 'tg_differential';

export interface Server {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Drops and creates the scratch role and database; returns how to connect as that role. */
export async function createScratchDatabase(server: Server): Promise<pg.ClientConfig> {
  const password = randomBytes(18).toString('hex');
  const admin = new pg.Client({ ...server, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${SCRATCH} with (force)`);
    await admin.query(`drop role if exists ${SCRATCH}`);
    await admin.query(`create role ${SCRATCH} login password '${password}'`);
    await admin.query(`create database ${SCRATCH} owner ${SCRATCH}`);
    // Counted for SQL and PL functions alike; a superuser-only setting, so set where the role cannot undo it.
    await admin.query(`alter database ${SCRATCH} set track_functions = 'all'`);
    // JIT-compiling the catalogue query costs 10-20 times its run (about 1 s a read); this checks classes, not speed.
    await admin.query(`alter database ${SCRATCH} set jit = off`);
  } finally {
    await admin.end();
  }
  const inside = new pg.Client({ ...server, database: SCRATCH });
  await inside.connect();
  try {
    await inside.query(OBSERVER_SETUP);
    await inside.query(observerGrants(SCRATCH));
  } finally {
    await inside.end();
  }
  return { host: server.host, port: server.port, user: SCRATCH, password, database: SCRATCH };
}

export async function dropScratchDatabase(server: Server): Promise<void> {
  const admin = new pg.Client({ ...server, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${SCRATCH} with (force)`);
    await admin.query(`drop role if exists ${SCRATCH}`);
  } finally {
    await admin.end();
  }
}

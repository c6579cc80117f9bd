/** Schema of the embedded log; `pos` is the log-wide order that consumers commit positions against. */
export const EMBEDDED_LOG_SCHEMA = `
CREATE TABLE IF NOT EXISTS log_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  instance   TEXT NOT NULL,
  protocol   TEXT NOT NULL,
  context    TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at   TEXT,
  end_reason TEXT,
  -- Set when the final signed checkpoint is written; a restarted gateway aborts what is not sealed.
  sealed     INTEGER NOT NULL DEFAULT 0
);
-- Newest first without sorting every session (and counting each one's records) first: \`trailgate sessions\`.
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started_at, session_id);
CREATE TABLE IF NOT EXISTS records (
  pos        INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  stream     TEXT NOT NULL CHECK (stream IN ('events', 'bytes')),
  type       TEXT NOT NULL,
  ts         TEXT NOT NULL,
  data       TEXT,
  direction  TEXT,
  byte_offset INTEGER,
  channel    INTEGER,
  -- 1 for SSH stderr (extended data) bytes
  stderr     INTEGER,
  bytes      BLOB,
  prev       TEXT NOT NULL,
  hash       TEXT NOT NULL,
  UNIQUE (session_id, seq)
);
-- The gateway's signed summary of the sessions it opened, one chain per instance: deleting a
-- whole session leaves its id here.
CREATE TABLE IF NOT EXISTS ledger (
  instance TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  ts       TEXT NOT NULL,
  opened   TEXT NOT NULL,
  prev     TEXT NOT NULL,
  hash     TEXT NOT NULL,
  kid      TEXT NOT NULL,
  jws      TEXT NOT NULL,
  PRIMARY KEY (instance, seq)
);
`;

export const EMBEDDED_LOG_SCHEMA_VERSION = '2';

/** The event log refuses writes (disk full, read-only file system, I/O error); its records are held and retried. */
export class LogUnwritableError extends Error {
  readonly code = 'TG_LOG_UNWRITABLE';
  /** ENOSPC-like (free space fixes it) or not (the file system must be repaired). */
  readonly diskFull: boolean;

  constructor(cause: Error, file: string) {
    const text = `${(cause as NodeJS.ErrnoException).code ?? ''} ${cause.message}`;
    const diskFull = /SQLITE_FULL|ENOSPC|database or disk is full|no space/i.test(text);
    const fix = diskFull ? `free space on the file system of ${file}` : `make the file system of ${file} writable again (read-only or failing: check it, then restart the gateway)`;
    super(`TG_LOG_UNWRITABLE: the event log refuses writes (${cause.message}); nothing is run that cannot be recorded, and what is recorded is held in memory until the log takes it: ${fix}`);
    this.diskFull = diskFull;
  }
}

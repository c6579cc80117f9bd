/** The event log refuses writes (disk full, read-only file system, I/O error); its records are held and retried. */
export class LogUnwritableError extends Error {
  readonly code: string = 'TG_LOG_UNWRITABLE';
  /** ENOSPC-like (free space fixes it) or not (the file system must be repaired). */
  readonly diskFull: boolean;
  /** What brings the log back, for messages built on this one. */
  readonly fix: string;

  constructor(
    readonly underlying: Error,
    readonly file: string,
  ) {
    const text = `${(underlying as NodeJS.ErrnoException).code ?? ''} ${underlying.message}`;
    const diskFull = /SQLITE_FULL|ENOSPC|database or disk is full|no space/i.test(text);
    const fix = diskFull ? `free space on the file system of ${file}` : `make the file system of ${file} writable again (read-only or failing: check it, then restart the gateway)`;
    super(`TG_LOG_UNWRITABLE: the event log refuses writes (${underlying.message}); nothing is run that cannot be recorded, and what is recorded is held in memory until the log takes it: ${fix}`);
    this.diskFull = diskFull;
    this.fix = fix;
  }
}

/**
 * The log has refused writes for so long that the records held for it reached recording.maxHeldBytes:
 * open sessions are ended and new ones refused, unrecorded, so memory stays bounded instead of growing.
 */
export class LogHeldLimitError extends LogUnwritableError {
  override readonly code: string = 'TG_LOG_HELD_LIMIT';

  constructor(unwritable: LogUnwritableError, heldBytes: number, maxHeldBytes: number) {
    super(unwritable.underlying, unwritable.file);
    this.message = `TG_LOG_HELD_LIMIT: the event log refuses writes (${unwritable.underlying.message}) and the gateway holds ${heldBytes} bytes of records for it, over recording.maxHeldBytes (${maxHeldBytes}): sessions are ended and new statements and sessions refused until it takes writes again: ${unwritable.fix}`;
  }
}

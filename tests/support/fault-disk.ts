/**
 * Small file systems mounted for one test, so that a full or read-only disk is real and touches
 * nothing else: a tmpfs that a filler file makes full, and an ext4 image on a loop device whose
 * kernel error handling (errors=remount-ro) turns it read-only. Needs root; unmount in after().
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the disk fault tests mount small file systems and need root (CI runs as root)');
}

export class FullableDisk {
  private readonly filler: string;
  private constructor(readonly dir: string) {
    this.filler = join(dir, 'filler');
  }

  /** A tmpfs of `bytes` at a fresh directory. */
  static mount(bytes: number): FullableDisk {
    requireRoot();
    const dir = mkdtempSync(join(tmpdir(), 'trailgate-full-'));
    run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir]);
    return new FullableDisk(dir);
  }

  freeBytes(): number {
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  /** Allocates every free block to a filler file: the next write that needs a block gets ENOSPC. */
  fill(): void {
    run('fallocate', ['-l', String(this.freeBytes()), this.filler]);
    if (this.freeBytes() !== 0) throw new Error(`the disk still has ${this.freeBytes()} bytes free after filling`);
  }

  /** Gives the space back. */
  free(): void {
    unlinkSync(this.filler);
  }

  unmount(): void {
    run('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class BreakableDisk {
  private constructor(
    readonly dir: string,
    private readonly image: string,
  ) {}

  /** An ext4 image of `megabytes` on a loop device, mounted with errors=remount-ro. */
  static mount(megabytes: number): BreakableDisk {
    requireRoot();
    const home = mkdtempSync(join(tmpdir(), 'trailgate-ro-'));
    const image = join(home, 'disk.img');
    const dir = join(home, 'mnt');
    run('truncate', ['-s', `${megabytes}M`, image]);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    run('mkdir', ['-p', dir]);
    const disk = new BreakableDisk(dir, image);
    disk.attach();
    return disk;
  }

  private attach(): void {
    run('mount', ['-o', 'loop,errors=remount-ro', this.image, this.dir]);
  }

  /** An ext4 error as a failing disk raises it: the kernel turns the mounted file system read-only under its open files. */
  breakIt(): void {
    // Written back first: what the page cache held would be lost with the error (as on a real disk without recording.fsync).
    run('sync', ['-f', this.dir]);
    const device = basename(run('findmnt', ['-no', 'SOURCE', this.dir]));
    run('sh', ['-c', `echo 1 > /sys/fs/ext4/${device}/trigger_fs_error`]);
    const options = run('findmnt', ['-no', 'OPTIONS', this.dir]).split(',');
    if (!options.includes('ro') && !options.includes('emergency_ro')) throw new Error('the file system did not turn read-only');
  }

  /** What an operator does once the gateway is stopped: check the file system and mount it again. */
  repair(): void {
    run('umount', [this.dir]);
    try {
      run('e2fsck', ['-fy', this.image]);
    } catch {
      // e2fsck exits 1 when it fixed something: expected after an error.
    }
    this.attach();
  }

  unmount(): void {
    try {
      run('umount', ['-l', this.dir]);
    } catch {
      // already unmounted
    }
    rmSync(join(this.dir, '..'), { recursive: true, force: true });
  }
}

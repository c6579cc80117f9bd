import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayHarness } from './gateway-harness.js';

/**
 * The closing suite of a file: stops its gateway and proves every session the file recorded intact
 * (chained, signed and sealed). `settle` ends what the file kept open on purpose.
 */
export function auditTrailOfThisSuite(harness: () => GatewayHarness, o: { minSessions?: number; settle?: () => Promise<void> } = {}): void {
  describe('the audit trail of this suite', () => {
    it('verifies every session recorded above as intact: chained, signed and sealed', async () => {
      await o.settle?.();
      const report = await harness().stopAndVerify();
      assert.ok(report.sessions.length >= (o.minSessions ?? 1), 'the suite recorded its sessions');
      assert.deepEqual(report.sessions.filter((s) => s.status !== 'intact'), [], 'no session is truncated or tampered');
      assert.equal(report.ok, true);
    });
  });
}

/** A relay's finish: the first call records its error (if any) and resolves the outcome; later calls do nothing. */
export function settleOnce<T extends { error?: string }>(outcome: T, resolve: (outcome: T) => void): (error?: string) => void {
  let settled = false;
  return (error?: string) => {
    if (settled) return;
    settled = true;
    if (error) outcome.error = error;
    resolve(outcome);
  };
}

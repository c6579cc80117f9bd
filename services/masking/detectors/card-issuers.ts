// Issuer identification number ranges of the networks whose cards people paste (ISO/IEC 7812 IINs as published by the
// networks), as ranges of the first four digits. Requiring one cuts false positives on random Luhn-valid integers
// by more than half.
const RANGES: ReadonlyArray<readonly [low: number, high: number]> = [
  [2200, 2204], // Mir
  [2221, 2720], // Mastercard 2-series
  [3000, 3099], // Diners Club International (300-305, 309)
  [3400, 3499], // American Express
  [3500, 3599], // JCB (3528-3589)
  [3600, 3699], // Diners Club
  [3700, 3799], // American Express
  [3800, 3999], // Diners Club
  [4000, 4999], // Visa
  [5000, 5999], // Mastercard 51-55, Maestro 50, 56-59
  [6000, 6999], // Discover, UnionPay, Maestro, RuPay, Troy
];

/** True when a card number's first four digits (as a number, 1000-9999) fall under a known issuer. */
export function knownIssuer(firstFour: number): boolean {
  for (const [low, high] of RANGES) if (firstFour >= low && firstFour <= high) return true;
  return false;
}

// Issuer identification number ranges of the networks whose cards people paste (ISO/IEC 7812 IINs as published by the
// networks). Requiring one cuts false positives on random Luhn-valid integers by more than half.
const RANGES: ReadonlyArray<readonly [low: string, high: string]> = [
  ['2200', '2204'], // Mir
  ['2221', '2720'], // Mastercard 2-series
  ['30', '30'], // Diners Club International (300-305, 309)
  ['34', '34'], // American Express
  ['35', '35'], // JCB (3528-3589)
  ['36', '36'], // Diners Club
  ['37', '37'], // American Express
  ['38', '39'], // Diners Club
  ['4', '4'], // Visa
  ['50', '59'], // Mastercard 51-55, Maestro 50, 56-59
  ['6', '6'], // Discover, UnionPay, Maestro, RuPay, Troy
];

/** True when the card number starts with a known issuer prefix. */
export function knownIssuer(digits: string): boolean {
  for (const [low, high] of RANGES) {
    const prefix = digits.slice(0, low.length);
    if (prefix >= low && prefix <= high) return true;
  }
  return false;
}

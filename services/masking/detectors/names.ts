// Detector names on their own, so configuration can validate them without loading the detectors.
export type DetectorName = 'email' | 'card' | 'iban' | 'jwt' | 'cloud-token' | 'vcs-token' | 'private-key';

export const ALL_DETECTORS: readonly DetectorName[] = ['email', 'card', 'iban', 'jwt', 'cloud-token', 'vcs-token', 'private-key'];

/** The detectors whose hits are almost never wrong (checksums, documented prefixes): the default for the trail. */
export const HIGH_PRECISION_DETECTORS: readonly DetectorName[] = ['card', 'iban', 'jwt', 'cloud-token', 'vcs-token', 'private-key'];

/**
 * E-mail address validation, as strict as Ghost's validator (local@domain.tld, no spaces).
 */

/** True for a plausible address: one @, a non-empty local part, a dotted domain, ≤ 191 chars. */
export function isValidEmail(value: string): boolean {
  if (value.length > 191 || /\s/.test(value)) return false;
  const match = /^([^@]+)@([^@]+)$/.exec(value);
  if (!match) return false;
  const [, local, domain] = match;
  if (local!.length > 64 || local!.startsWith('.') || local!.endsWith('.') || local!.includes('..')) return false;
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(local!)) return false;
  const labels = domain!.split('.');
  if (labels.length < 2) return false;
  return labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)) && /^[A-Za-z]{2,}$/.test(labels[labels.length - 1]!);
}

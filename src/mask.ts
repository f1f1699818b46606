/**
 * Phone numbers are personal data: summaries, details and search attributes show them masked. Dependency-free,
 * so workflow code can use it.
 */

/** `+15551230000` → `+1•••••••000`; keeps the country-code digit and the last three. */
function maskPhoneNumber(number: string): string {
  const digits = number.replace(/^\+/, '');
  if (digits.length <= 4) return '•'.repeat(number.length);
  return `+${digits.slice(0, 1)}${'•'.repeat(digits.length - 4)}${digits.slice(-3)}`;
}

/** Masks an E.164 number, or the digits of a SIP URI's user part (`sip:+15551230000@pbx` → `sip:+1•••••••000@pbx`). */
export function maskEndpoint(endpoint: string): string {
  if (/^\+\d+$/.test(endpoint)) return maskPhoneNumber(endpoint);
  const sip = /^(sips?:)([^@;]+)(@.*)?$/.exec(endpoint);
  if (sip && /^\+?\d{5,}$/.test(sip[2] ?? '')) {
    const user = sip[2] ?? '';
    return `${sip[1]}${user.startsWith('+') ? maskPhoneNumber(user) : maskPhoneNumber(`+${user}`).slice(1)}${sip[3] ?? ''}`;
  }
  return endpoint;
}

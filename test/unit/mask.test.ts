import { maskEndpoint } from '../../src/mask';

test.each([
  ['+15551230000', '+1•••••••000'],
  ['sip:+15551230000@pbx.example.com', 'sip:+1•••••••000@pbx.example.com'],
  ['sip:15551230000@pbx.example.com', 'sip:1•••••••000@pbx.example.com'],
  ['sip:agent@pbx.example.com', 'sip:agent@pbx.example.com'],
])('%s → %s', (endpoint, masked) => {
  expect(maskEndpoint(endpoint)).toBe(masked);
  expect(maskEndpoint(endpoint)).not.toMatch(/5551230/);
});

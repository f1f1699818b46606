/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  modulePathIgnorePatterns: ['<rootDir>/lib'],
  clearMocks: true,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  // Integration suites start a real Temporal dev server; keep them from fighting over 2 cores.
  maxWorkers: 2,
  testTimeout: 60_000,
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
};

// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Workflow code is replayed: it must not reach the outside world. Ban every Node builtin (both spellings),
// undici, zod and the Temporal packages that only make sense outside the workflow sandbox.
const determinism = 'Workflow code must stay deterministic: no I/O.';
const bannedInWorkflows = [
  ...builtinModules.filter((m) => m !== 'assert'),
  ...builtinModules.map((m) => `node:${m}`),
  'undici',
  'zod',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
];

export default tseslint.config(
  {
    ignores: [
      'lib/**',
      'node_modules/**',
      'coverage/**',
      '.switchboard/**',
      'bench/results/**',
      '*.js',
      'scripts/*.js',
      'test/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/shared.ts', 'src/mask.ts'],
    rules: {
      // Type-only imports (activity signatures for proxyActivities) are erased at build time, so they are allowed.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: bannedInWorkflows.map((name) => ({ name, message: determinism, allowTypeImports: true })),
          patterns: [
            {
              group: [
                'undici/*',
                'zod/*',
                '**/daily',
                '**/daily/*',
                '**/relay/*',
                '**/sandbox/*',
                '**/activities',
                '**/activities/*',
                '**/input',
                '**/client/*',
              ],
              message: determinism,
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  }
);

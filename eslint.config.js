import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.test-state/', 'bench/.work/', '.trailgate/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  { files: ['services/cli/**', 'tests/**', 'bench/**', 'bin/**'], rules: { 'no-console': 'off' } },
  { files: ['services/replay/web/**/*.js'], languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', performance: 'readonly' } } },
  { files: ['bin/**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);

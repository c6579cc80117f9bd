#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm run build` produces dist/.
import('../dist/services/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/services/cli/main.js')) {
    console.error('trailgate is not built yet: run `npm run build` first.');
    process.exit(1);
  }
  throw err;
});

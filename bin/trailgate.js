#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm run build` produces dist/.
import('../dist/services/cli/main.js').catch((err) => {
  // Only the CLI itself missing means "not built"; a dependency missing from main.js is another story.
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /^Cannot find module '[^']*dist\/services\/cli\/main\.js'/.test(String(err.message))) {
    console.error('trailgate is not built yet: run `npm run build` first.');
    process.exit(1);
  }
  throw err;
});

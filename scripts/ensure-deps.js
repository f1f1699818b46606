// Runs before `npm test` and `npm start`: installs the locked npm packages when node_modules is missing or older
// than package-lock.json, so the README's commands work on a fresh clone and stay fast afterwards.
// Plain JavaScript: it runs before TypeScript tooling is installed.
//
// `npm install --no-save` rather than `npm ci`: some registry mirrors do not serve every platform's optional native
// build (e.g. @swc/core for macOS), which npm then leaves out of the lock file, and `npm ci` refuses such a lock.
// `npm install` still installs exactly the locked versions and skips optional packages it cannot get.
const { spawnSync } = require('node:child_process');
const { statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const mtime = (file) => {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
};

const installed = mtime('node_modules/.package-lock.json');
const locked = mtime('package-lock.json');
if (installed !== undefined && locked !== undefined && installed >= locked) process.exit(0);

console.log('Installing npm packages…');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const result = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-save'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);

/** `npm run setup`: make sure the Temporal CLI (dev server + UI) is available, building it once if needed. */
import { ensureTemporalCli } from '../src/local/temporal-cli';

ensureTemporalCli()
  .then((binary) => console.log(binary ? `Temporal CLI: ${binary}` : 'Temporal CLI: using the SDK download'))
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });

/**
 * `npm run sandbox`: the sandbox as its own process, driven over `/_sandbox/*` (see README.md).
 *
 * Env: SANDBOX_PORT (default 8090); SANDBOX_HOST (default 127.0.0.1; 0.0.0.0 in a container); SANDBOX_WEBHOOK_URL + SANDBOX_WEBHOOK_SECRET (base64) to set up the domain's
 * webhook at startup, with exponential retries so that a relay that is briefly down does not switch it off.
 */
import { request } from 'undici';
import { isBase64 } from './daily-api';
import { DEFAULT_PORT, startSandbox } from './server';
import type { Sandbox } from './types';

const WEBHOOK_SETUP_RETRY_MS = 2_000;

function readConfig(): { port: number; host?: string; webhook?: { url: string; secret: string } } {
  const port = Number(process.env.SANDBOX_PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`SANDBOX_PORT must be a port number, got ${process.env.SANDBOX_PORT}`);
  }
  const url = process.env.SANDBOX_WEBHOOK_URL;
  const secret = process.env.SANDBOX_WEBHOOK_SECRET;
  if ((url === undefined) !== (secret === undefined)) {
    throw new Error('set both SANDBOX_WEBHOOK_URL and SANDBOX_WEBHOOK_SECRET, or neither');
  }
  // The same check its webhook API applies: a secret it would refuse must fail here, not retry for ever.
  if (secret !== undefined && !isBase64(secret)) {
    throw new Error('SANDBOX_WEBHOOK_SECRET must be base64, like the hmac Daily generates');
  }
  // In a container the sandbox must listen on all interfaces (SANDBOX_HOST=0.0.0.0) for the worker to reach it.
  const host = process.env.SANDBOX_HOST || undefined;
  return { port, host, ...(url !== undefined && secret !== undefined && { webhook: { url, secret } }) };
}

/**
 * Creates the webhook through the sandbox's own /v1 API, as a user would. The receiver (the relay) may start after
 * the sandbox, so a failed verification is retried until it answers or the sandbox stops.
 */
async function setUpWebhook(sandbox: Sandbox, url: string, secret: string, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    let res;
    try {
      res = await request(`${sandbox.apiBase}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sandbox.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url, hmac: secret, retryType: 'exponential' }),
      });
    } catch (err) {
      // Only a sandbox that is shutting down refuses its own requests.
      if (stopped()) return;
      throw err;
    }
    const body = (await res.body.json()) as { uuid?: string; info?: string };
    if (res.statusCode === 200) {
      console.log(`[sandbox] webhook ${body.uuid} -> ${url} (exponential retries)`);
      return;
    }
    console.log(`[sandbox] webhook setup: ${body.info ?? res.statusCode}; retrying in ${WEBHOOK_SETUP_RETRY_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, WEBHOOK_SETUP_RETRY_MS).unref());
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const sandbox = await startSandbox({
    port: config.port,
    host: config.host,
    log: (line) => console.log(`[sandbox] ${line}`),
  });
  let stopping = false;
  console.log(
    [
      '',
      '  Daily sandbox is running',
      `    API base   ${sandbox.apiBase}`,
      `    API key    ${sandbox.apiKey}   (Authorization: Bearer ${sandbox.apiKey})`,
      `    control    ${sandbox.url}/_sandbox   (e.g. POST /_sandbox/rooms {"name":"demo"})`,
      '',
    ].join('\n')
  );

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[sandbox] ${signal}: closing`);
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      }
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));

  if (config.webhook) await setUpWebhook(sandbox, config.webhook.url, config.webhook.secret, () => stopping);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { once } from 'node:events';
import { createServer } from 'node:net';
import pino from 'pino';
import { freePort } from '../../src/local/dev-server';
import { PortInUseError, startLocalStack } from '../../src/local/stack';

test('a port in use stops npm start before anything starts, naming the port and the variable that moves it', async () => {
  const squatter = createServer().listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const taken = (squatter.address() as { port: number }).port;
  try {
    const starting = startLocalStack({
      dataDir: '/nonexistent/never-created',
      temporalPort: await freePort(),
      uiPort: await freePort(),
      relayPort: taken,
      sandboxPort: await freePort(),
      logger: pino({ level: 'silent' }),
    });
    await expect(starting).rejects.toBeInstanceOf(PortInUseError);
    await expect(starting).rejects.toThrow(
      `port ${taken} (relay) is in use: stop whatever holds it, or set RELAY_PORT`
    );
  } finally {
    squatter.close();
  }
});

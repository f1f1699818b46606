/**
 * test:cluster's load balancer in front of the relays: round robin per connection, and a relay that is down is
 * skipped rather than failing the delivery that happened to reach it.
 */
import { once } from 'node:events';
import net from 'node:net';
import { startProxy, type RoundRobinProxy } from '../../scripts/cluster/proxy';

/** A TCP server that answers each connection with its name and closes it. */
async function upstream(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.end(name));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      server.close();
      await once(server, 'close');
    },
  };
}

async function ask(proxy: RoundRobinProxy): Promise<string> {
  const { port } = new URL(proxy.url);
  const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  await once(socket, 'close');
  return answer;
}

test('spreads connections in turn, and skips an upstream that refuses them', async () => {
  const a = await upstream('a');
  const b = await upstream('b');
  const proxy = await startProxy([a.port, b.port]);
  try {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await ask(proxy));
    expect(answers).toEqual(['a', 'b', 'a', 'b']);

    await a.close();
    const afterA = [];
    for (let i = 0; i < 3; i++) afterA.push(await ask(proxy));
    expect(afterA).toEqual(['b', 'b', 'b']);
    expect(Object.fromEntries(proxy.connections)).toEqual({ [a.port]: 2, [b.port]: 5 });

    await b.close();
    // Nothing to forward to: the client's connection is closed, not left hanging.
    expect(await ask(proxy)).toBe('');
  } finally {
    await proxy.close();
  }
});

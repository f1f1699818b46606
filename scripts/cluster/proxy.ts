/**
 * The load balancer in front of the relays, as small as it can be: TCP, round robin per connection, and an upstream
 * that refuses a connection is skipped for the next one, as a load balancer's health check would. A relay killed
 * mid-request drops that connection: Daily sees a failed delivery and retries it, which is the case under test.
 */
import { once } from 'node:events';
import net from 'node:net';

export interface RoundRobinProxy {
  readonly url: string;
  /** Connections handed to each upstream, by its port. */
  readonly connections: Map<number, number>;
  close(): Promise<void>;
}

export async function startProxy(upstreamPorts: number[]): Promise<RoundRobinProxy> {
  let next = 0;
  const connections = new Map<number, number>(upstreamPorts.map((port) => [port, 0]));
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  /** Connects to the upstreams in turn from the next one; undefined when none accepts. */
  const connectUpstream = async (): Promise<net.Socket | undefined> => {
    for (let tried = 0; tried < upstreamPorts.length; tried++) {
      const port = upstreamPorts[next++ % upstreamPorts.length] as number;
      const upstream = net.connect({ host: '127.0.0.1', port });
      try {
        await once(upstream, 'connect');
        connections.set(port, (connections.get(port) ?? 0) + 1);
        return upstream;
      } catch {
        upstream.destroy();
      }
    }
    return undefined;
  };

  const server = net.createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    void connectUpstream().then((upstream) => {
      if (!upstream) {
        client.destroy();
        return;
      }
      track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

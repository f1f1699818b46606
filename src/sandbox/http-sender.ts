import { Agent, request } from 'undici';

/** Outgoing POSTs to webhook receivers: one keep-alive agent, so `close()` can abort whatever is in flight. */
export class HttpSender {
  // Idle sockets are dropped after 2 s even when the receiver advertises a longer keep-alive (the relay does): a
  // receiver that shuts down waits for its idle connections, and the sandbox must not hold them open for a minute.
  private readonly agent = new Agent({ keepAliveTimeout: 2_000, keepAliveMaxTimeout: 2_000 });

  /** The receiver's status code, or 'error' for a connection failure or a response slower than `timeoutMs`. */
  async post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number | 'error'> {
    try {
      const res = await request(url, {
        method: 'POST',
        body,
        headers,
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      return res.statusCode;
    } catch {
      return 'error';
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

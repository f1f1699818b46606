import { Agent, request } from 'undici';
import type {
  CallerFailure,
  CallerOptions,
  DestinationScenario,
  DialOutFilter,
  DialOutView,
  Fault,
  FaultMatch,
  ParticipantView,
  RecordedRequest,
  RequestFilter,
  RoomOptions,
  SandboxEvent,
  SandboxInfo,
  SandboxModel,
  WebhookDelivery,
  WebhookFaults,
  WebhookObject,
} from './types';

/** Thrown for any non-2xx answer of the control API; `info` is the sandbox's explanation. */
export class SandboxControlError extends Error {
  override readonly name = 'SandboxControlError';

  constructor(
    readonly status: number,
    readonly info: string
  ) {
    super(`sandbox control: ${status} ${info}`);
  }
}

/** A typed client of `/_sandbox/*`, for driving a sandbox that runs in another process. */
export class SandboxControl {
  readonly url: string;
  readonly apiBase: string;
  private readonly agent = new Agent({ keepAliveTimeout: 4_000 });

  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
    this.apiBase = `${this.url}/v1`;
  }

  /** The sandbox's URLs, API key and domain id. */
  info(): Promise<SandboxInfo> {
    return this.call('GET', '/info');
  }

  createRoom(name: string, opts: RoomOptions = {}): Promise<{ name: string; sipUri: string }> {
    return this.call('POST', '/rooms', { name, ...opts });
  }

  addCaller(room: string, opts: CallerOptions = {}): Promise<{ sessionId: string }> {
    return this.call('POST', `/rooms/${encodeURIComponent(room)}/callers`, opts);
  }

  async setScenario(toEndPoint: string, scenario: DestinationScenario): Promise<void> {
    await this.call('PUT', '/scenarios', { toEndPoint, scenario });
  }

  async queueFault(match: FaultMatch, fault: Fault, times?: number): Promise<void> {
    await this.call('POST', '/faults', { match, fault, ...(times !== undefined && { times }) });
  }

  async setWebhookFaults(f: WebhookFaults): Promise<void> {
    await this.call('PUT', '/webhook-faults', f);
  }

  async setModel(m: Partial<SandboxModel>): Promise<void> {
    await this.call('PUT', '/model', m);
  }

  async failCaller(room: string, sessionId: string, failure: CallerFailure = {}): Promise<void> {
    await this.call(
      'POST',
      `/rooms/${encodeURIComponent(room)}/callers/${encodeURIComponent(sessionId)}/fail`,
      failure
    );
  }

  requests(filter: RequestFilter = {}): Promise<RecordedRequest[]> {
    const query = new URLSearchParams();
    if (filter.path !== undefined) query.set('path', filter.path);
    if (filter.room !== undefined) query.set('room', filter.room);
    const qs = query.toString();
    return this.call('GET', `/requests${qs ? `?${qs}` : ''}`);
  }

  emittedEvents(): Promise<SandboxEvent[]> {
    return this.call('GET', '/events');
  }

  deliveries(): Promise<WebhookDelivery[]> {
    return this.call('GET', '/deliveries');
  }

  async participant(room: string, sessionId: string): Promise<ParticipantView | undefined> {
    try {
      return await this.call('GET', `/participants/${encodeURIComponent(room)}/${encodeURIComponent(sessionId)}`);
    } catch (err) {
      if (err instanceof SandboxControlError && err.status === 404) return undefined;
      throw err;
    }
  }

  dialOuts(filter: DialOutFilter = {}): Promise<DialOutView[]> {
    const query = new URLSearchParams();
    if (filter.room !== undefined) query.set('room', filter.room);
    if (filter.state !== undefined) query.set('state', filter.state);
    const qs = query.toString();
    return this.call('GET', `/dialouts${qs ? `?${qs}` : ''}`);
  }

  webhooks(): Promise<WebhookObject[]> {
    return this.call('GET', '/webhooks');
  }

  /** Waits (server side, up to `timeoutMs`) until no event emission or delivery is pending. */
  async idle(timeoutMs = 30_000): Promise<void> {
    await this.call('GET', `/idle?timeoutMs=${timeoutMs}`);
  }

  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  /** Closes this client's connections; the sandbox keeps running. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    const res = await request(`${this.url}/_sandbox${path}`, {
      method,
      dispatcher: this.agent,
      ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      let info = text;
      try {
        info = (JSON.parse(text) as { info?: string }).info ?? text;
      } catch {
        // Not JSON: the raw text is the best explanation there is.
      }
      throw new SandboxControlError(res.statusCode, info);
    }
    return JSON.parse(text) as T;
  }
}

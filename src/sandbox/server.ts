import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Calls } from './calls';
import type { EventSink } from './calls';
import { registerControlApi } from './control-api';
import { registerDailyApi } from './daily-api';
import { DialOuts } from './dial-out';
import { EventFactory } from './events';
import { FaultQueue } from './faults';
import { HttpSender } from './http-sender';
import { RequestLog } from './request-log';
import { Scheduler } from './scheduler';
import { DEFAULT_MODEL, DEFAULT_SCENARIO, DEFAULT_TIMING } from './types';
import type { Sandbox, SandboxEvent, SandboxInfo, SandboxModel, SandboxOptions } from './types';
import { WebhookDispatcher } from './webhook-delivery';
import { WebhookRegistry } from './webhooks';

export const DEFAULT_PORT = 8090;
export const DEFAULT_API_KEY = 'sandbox-key';
export const DEFAULT_DOMAIN_ID = '5a4db0c5-d0a1-4c1e-8a11-000000000001';

/** Starts a local stand-in for Daily's transfer API and webhooks (see README.md). */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const timing = { ...DEFAULT_TIMING, ...opts.timing };
  let model: SandboxModel = { ...DEFAULT_MODEL, ...opts.model };
  const log = opts.log ?? (() => undefined);
  const apiKey = opts.apiKey ?? DEFAULT_API_KEY;
  const domainId = opts.domainId ?? DEFAULT_DOMAIN_ID;
  const host = opts.host ?? '127.0.0.1';

  const scheduler = new Scheduler((err) =>
    log(`sandbox error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  );
  const sender = new HttpSender();
  const registry = new WebhookRegistry(domainId, sender, timing.verifyTimeoutMs);
  const dispatcher = new WebhookDispatcher({ registry, sender, scheduler, timing, log });
  let emitted: SandboxEvent[] = [];
  const sink: EventSink = {
    emit(events, group) {
      emitted.push(...events);
      for (const event of events) log(`event ${event.type} ${event.id}`);
      dispatcher.emit(events, group);
    },
    settle: (group) => dispatcher.settle(group),
  };
  const events = new EventFactory(domainId, () => model);
  const calls = new Calls({
    scheduler,
    events,
    sink,
    timing,
    model: () => model,
    defaultScenario: opts.defaultScenario ?? DEFAULT_SCENARIO,
  });
  const dialOuts = new DialOuts({ calls, scheduler, events, sink, timing });
  const faults = new FaultQueue();
  const requests = new RequestLog();

  // forceCloseConnections: close() must not wait for keep-alive clients (the worker's undici pool).
  const app = Fastify({ logger: false, forceCloseConnections: true });
  let url = '';
  const info = (): SandboxInfo => ({ url, apiBase: `${url}/v1`, apiKey, domainId });

  const sandbox: Sandbox = {
    get url() {
      return url;
    },
    get apiBase() {
      return `${url}/v1`;
    },
    apiKey,
    createRoom(name, roomOpts) {
      const room = calls.createRoom(name, roomOpts);
      return { name: room.name, sipUri: room.sipUri };
    },
    addCaller(room, callerOpts) {
      return { sessionId: calls.addCaller(room, callerOpts).sessionId };
    },
    setScenario: (toEndPoint, scenario) => calls.setScenario(toEndPoint, scenario),
    queueFault: (match, fault, times) => faults.add(match, fault, times),
    setWebhookFaults: (f) => dispatcher.setFaults(f),
    setModel(m) {
      model = { ...model, ...m };
    },
    failCaller: (room, sessionId, failure) =>
      calls.failCaller(room, sessionId, failure?.errorMsg ?? 'sandbox: injected leg failure'),
    requests: (filter) => requests.list(filter),
    emittedEvents: () => [...emitted],
    deliveries: () => dispatcher.deliveries(),
    participant: (room, sessionId) => calls.participant(room, sessionId),
    dialOuts: (filter) => dialOuts.list(filter),
    webhooks: () => registry.list(),
    idle: () => scheduler.idle(),
    reset() {
      scheduler.clearTimers();
      calls.reset();
      dialOuts.reset();
      faults.clear();
      requests.clear();
      dispatcher.reset();
      emitted = [];
    },
    async close() {
      scheduler.clearTimers();
      dispatcher.reset();
      await app.close();
      await sender.close();
    },
  };

  registerDailyApi(app, { apiKey, calls, dialOuts, registry, faults, requests, model: () => model, log });
  registerControlApi(app, sandbox, info);
  await app.listen({ port: opts.port ?? DEFAULT_PORT, host });
  const { port } = app.server.address() as AddressInfo;
  url = `http://${host}:${port}`;
  return sandbox;
}

export { startSandbox, DEFAULT_API_KEY, DEFAULT_DOMAIN_ID, DEFAULT_PORT } from './server';
export { SandboxControl, SandboxControlError } from './control-client';
export { SandboxStateError } from './calls';
export { DEFAULT_MODEL, DEFAULT_SCENARIO, DEFAULT_TIMING, ENDPOINTS } from './types';
export type {
  CallerFailure,
  CallerOptions,
  DestinationScenario,
  DialOutFilter,
  DialOutState,
  DialOutView,
  Endpoint,
  Fault,
  FaultMatch,
  LegState,
  ParticipantView,
  RecordedRequest,
  RequestFilter,
  RoomOptions,
  Sandbox,
  SandboxEvent,
  SandboxInfo,
  SandboxModel,
  SandboxOptions,
  SandboxTiming,
  WebhookDelivery,
  WebhookFaults,
  WebhookObject,
} from './types';

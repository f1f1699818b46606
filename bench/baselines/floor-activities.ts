/**
 * The engine floor's activities: validation that only checks what the workflow needs, and one HTTP request to the
 * bench's event source in place of Daily's transfer endpoint (the same kind of work: a keep-alive POST on loopback).
 */
import { Agent, request } from 'undici';

export interface FloorInput {
  room: string;
  sessionId: string;
  toEndPoint: string;
  answerTimeoutSec: number;
  maxCallDurationSec: number;
}

export function createFloorActivities(eventSourceUrl: string) {
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  return {
    async validateFloorInput(input: FloorInput): Promise<void> {
      if (!input.room || !input.sessionId || !input.toEndPoint) throw new Error('room, sessionId and toEndPoint');
    },
    async requestFloorTransfer(input: FloorInput): Promise<void> {
      const res = await request(`${eventSourceUrl}/transfer`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: input.room, sessionId: input.sessionId, toEndPoint: input.toEndPoint }),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`event source answered ${res.statusCode}`);
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;

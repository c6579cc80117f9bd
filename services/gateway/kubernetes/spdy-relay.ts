import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeEndpoint } from './kube-endpoint.js';
import { SpdyFrameReader, SpdyProtocolError } from './spdy-frames.js';
import type { SpdyObserver } from './spdy-streams.js';
import type { StreamOutcome } from './stream-relay.js';
import { relayUpgrade, type ObservedStream } from './upgrade-relay.js';

export interface SpdyRelayHooks {
  /** The cluster accepted the upgrade with this X-Stream-Protocol-Version: the observer of the streams. */
  opened(protocol: string): SpdyObserver;
  /** Called with a function that ends the relay (the session's end), again once the connection is upgraded. */
  register(end: (reason: string) => void): void;
  /** The relay ended (before `relaySpdy` resolves, so that a session's end still finds it open). */
  closed(outcome: StreamOutcome): void;
}

/**
 * An exec, attach or port-forward over SPDY/3.1 (kubectl 1.29, 1.30's port-forward): the upgrade goes
 * to the cluster with the gateway's headers and the client's offered stream protocols that the gateway
 * can read; the frames pass unchanged both ways, each chunk read (and recorded) before it is forwarded.
 * Bytes that are not SPDY end the stream with TG_KUBE_SPDY_MALFORMED.
 */
export function relaySpdy(req: IncomingMessage, socket: Duplex, head: Buffer, endpoint: KubeEndpoint, path: string, headers: Record<string, string | string[]>, protocols: string[], hooks: SpdyRelayHooks): Promise<StreamOutcome> {
  const h: Record<string, string | string[]> = { ...headers, connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': protocols };
  return relayUpgrade(req, socket, head, endpoint, path, h, {
    opened: (answer) => {
      const protocol = String(answer.headers['x-stream-protocol-version'] ?? '');
      if (!protocols.includes(protocol)) throw new SpdyProtocolError(`the API server chose stream protocol '${protocol.slice(0, 60)}', which the client did not offer through the gateway`);
      return { subprotocol: protocol, stream: spdyStream(hooks.opened(protocol)) };
    },
    register: hooks.register,
    closed: hooks.closed,
  });
}

/** Both directions' frames, read into the observer. */
function spdyStream(observer: SpdyObserver): ObservedStream {
  const readers = { true: new SpdyFrameReader(), false: new SpdyFrameReader() };
  return {
    malformedCode: 'TG_KUBE_SPDY_MALFORMED',
    read(toClient, chunk) {
      for (const e of readers[`${toClient}`].push(chunk)) observer.event(toClient, e);
    },
    atBoundary: (toClient) => readers[`${toClient}`].atFrameBoundary,
    end: () => observer.end(),
    farewell: (reason) => observer.farewell(reason),
  };
}

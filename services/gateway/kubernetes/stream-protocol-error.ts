/** Bytes that are not the protocol an upgraded stream agreed on (WebSocket, SPDY/3.1); the session ends with its code. */
export class StreamProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

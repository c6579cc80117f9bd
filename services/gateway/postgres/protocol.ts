/** Wire constants of the PostgreSQL protocol 3.0 that the gateway needs on both sides. */
export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Frontend (client to server) message types. */
export const Fe = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Execute: 0x45, // E
  Describe: 0x44, // D
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  Terminate: 0x58, // X
  FunctionCall: 0x46, // F
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Password: 0x70, // p
} as const;

/** Backend (server to client) message types. */
export const Be = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  ParameterStatus: 0x53, // S
  ReadyForQuery: 0x5a, // Z
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  ParameterDescription: 0x74, // t
  RowDescription: 0x54, // T
  NoData: 0x6e, // n
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  EmptyQueryResponse: 0x49, // I
  PortalSuspended: 0x73, // s
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
} as const;

/** SQLSTATE codes the gateway answers with. */
export const SqlState = {
  InvalidAuthorization: '28000',
  InsufficientPrivilege: '42501',
  SyntaxError: '42601',
  ProtocolViolation: '08P01',
  ConnectionFailure: '08006',
  CannotConnect: '08001',
  FeatureNotSupported: '0A000',
  ProgramLimitExceeded: '54000',
  InvalidCatalogName: '3D000',
  AdminShutdown: '57P01',
  InternalError: 'XX000',
  /** The gateway's event log is full (53100 disk_full) or cannot be written (58030 io_error). */
  DiskFull: '53100',
  IoError: '58030',
} as const;

export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly sqlstate: string = SqlState.ProtocolViolation,
  ) {
    super(message);
  }
}

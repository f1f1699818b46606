/** What TypeScript backends import: the typed client, the request contract and the shared definitions. */
export { TransferAlreadyRunningError, TransferClient, listQuery } from './client/transfers';
export type { StartedTransfer, TransferListFilter, TransferListItem } from './client/transfers';
export { TransferInputError, TransferInputSchema, TransferRequestSchema, parseTransferRequest } from './input';
export type { TransferRequest } from './input';
export { maskEndpoint } from './mask';
export * from './shared';

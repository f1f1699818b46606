import { ApplicationFailure } from '@temporalio/common';
import { parseTransferInput, TransferInputError } from '../input';
import { FailureTypes, type TransferInput } from '../shared';

/**
 * Runs as a local activity at the start of every transfer, so a backend that starts `transferCall` with raw JSON
 * (from any language) gets the same validation as the typed client: zod cannot run inside workflow code.
 */
export async function validateTransferInput(raw: unknown): Promise<TransferInput> {
  try {
    return parseTransferInput(raw);
  } catch (err) {
    if (!(err instanceof TransferInputError)) throw err;
    throw ApplicationFailure.create({
      type: FailureTypes.invalidInput,
      message: err.message,
      nonRetryable: true,
      details: [err.issues],
    });
  }
}

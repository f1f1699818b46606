/**
 * JSON Schemas of the workflow's input and result, generated from the zod contract, for backends in other
 * languages. `npm run schema` writes them to `schema/`; a test fails when the committed files are stale.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { TransferInputSchema } from './input';
import { TransferResultSchema } from './result-schema';

export function transferJsonSchemas(): Record<string, unknown> {
  return {
    'transfer-input.schema.json': {
      ...z.toJSONSchema(TransferInputSchema, { io: 'input' }),
      title: 'transferCall input',
      description: 'Start workflow type `transferCall` on task queue `switchboard` with this as its only argument.',
    },
    'transfer-result.schema.json': {
      ...z.toJSONSchema(TransferResultSchema),
      title: 'transferCall result',
      description: 'The result of `transferCall`, and the answer to its `status` query and `cancel` update.',
    },
  };
}

if (require.main === module) {
  const dir = path.join(__dirname, '..', 'schema');
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of Object.entries(transferJsonSchemas())) {
    writeFileSync(path.join(dir, file), `${JSON.stringify(schema, null, 2)}\n`);
    console.log(`wrote schema/${file}`);
  }
}

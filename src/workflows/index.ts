export { transferCall } from './transfer-call';

import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import pino from 'pino';

/** Structured JSON logs (one object per line) with secrets redacted wherever they might be passed in. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): pino.Logger {
  return pino({
    level,
    base: { service },
    redact: {
      paths: ['apiKey', '*.apiKey', 'secret', '*.secret', 'hmac', '*.hmac', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  });
}

/** The Temporal SDK's own logs (worker, workflow `log`, activities) as the same JSON lines. */
export function temporalLogger(logger: pino.Logger): TemporalLogger {
  const levels: Record<LogLevel, pino.Level> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => logger[levels[level]](meta ?? {}, message);
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

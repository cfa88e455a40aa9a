/**
 * harmonia/service: Harmonia inside Node services (docs/SERVICE.md). The HTTP server behind
 * `harmonia serve`, its bounded worker-thread pool, and batch jobs on BullMQ + Redis (`harmonia
 * enqueue` / `worker` / `jobs`).
 */
export { createServer, HttpError, DEFAULT_BODY_LIMIT, DEFAULT_SERVE_MAX_PIXELS, type ServeOptions, type HarmoniaServer } from './server.ts';
export { HarmonizePool, OverCapacityError, PoolError, type PoolOptions, type PoolStats } from './pool.ts';
export { runImageJob, checkJob, type ImageJob, type JobInput, type JobResult } from './job.ts';
export {
  enqueueBatch, startBatchWorker, queueProgress, outputPath, jobHash, parseRedisUrl, busyTime, DEFAULT_QUEUE,
  type BatchJobData, type BatchJobResult, type BatchItemInput, type BatchOptions, type EnqueueOptions, type EnqueueResult, type WorkerOptions, type BatchWorker, type Progress,
} from './queue.ts';
export { checkJobName, jobNameProblem, outputRoot } from './names.ts';

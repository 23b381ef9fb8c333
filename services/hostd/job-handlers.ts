// The registry of job handlers: one entry per job in contracts/jobs.ts. The
// mapped type makes a missing handler a compile error, so a job the API can
// enqueue always has code on the host side.
import type { JobInput, JobName, JobOutput } from '../contracts/jobs.js';
import type { Logger } from '../contracts/logger.js';

export interface JobContext {
  jobId: string;
  log: Logger;
  /** Reports progress (0–100 and a step name) to the API, which relays it to clients. */
  progress(percent: number, step: string): Promise<void>;
  /** Aborted when hostd's drain grace runs out and the job should stop at its next safe point. */
  signal: AbortSignal;
  /** Aborted as soon as hostd starts to drain: work with no end of its own (a log follow) ends here, cleanly. */
  stopping: AbortSignal;
  /**
   * An earlier hostd started this job and died holding it (BullMQ found it
   * stalled and handed it over). Most handlers redo the work; one that must
   * not (a live fork: the moment it copies is gone) cleans up and fails.
   */
  interrupted?: boolean;
}

export type JobHandler<N extends JobName> = (input: JobInput<N>, ctx: JobContext) => Promise<JobOutput<N>>;

export type JobHandlers = { [N in JobName]: JobHandler<N> };

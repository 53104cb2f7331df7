package io.tandem.worker;

import io.tandem.protocol.worker.WorkerProtocol.WorkerStats;

/** A worker's running figures: forward passes ({@code steps}, vLLM's word), batch sizes, tokens, cache traffic. */
final class WorkerMetrics {
  final long startNanos = System.nanoTime();
  long steps;
  long batchedSequenceSteps;
  long prefillTokens;
  long decodeTokens;
  long prefillNanos;
  long decodeNanos;
  long busyNanos;
  long cacheHits;
  long cacheMisses;
  long cacheEvictions;
  long requests;
  long rejected;
  /** Tokens each finished request brought that the worker had not processed (incremental sync). */
  long unseenTokens;
  long requestsDone;
  /** New sequences started from a cached prefix of another (automatic prefix caching), and the tokens they reused. */
  long prefixCacheHits;
  long prefixCacheTokens;
  /** Running sequences preempted for cache room (their caches dropped, recomputed when they resume). */
  long preemptions;

  void recordStep(int batch, int prefilled, long nanos) {
    steps++;
    batchedSequenceSteps += batch;
    busyNanos += nanos;
    decodeTokens += batch;
    prefillTokens += prefilled;
    // Attribute the pass's time to prefill and decode by token share.
    double share = prefilled / (double) (prefilled + batch);
    prefillNanos += (long) (nanos * share);
    decodeNanos += (long) (nanos * (1 - share));
  }

  /**
   * One step served by a remote engine: {@code prefilled} prompt tokens it had not seen, {@code
   * generated} tokens, {@code firstTokenNanos} from sending to the first token (the prefill and
   * the hop) and {@code nanos} from sending to the end. Steps overlap, so busy time can exceed
   * wall time.
   */
  void recordEngineStep(int prefilled, int generated, long firstTokenNanos, long nanos) {
    steps++;
    batchedSequenceSteps++;
    busyNanos += nanos;
    prefillTokens += prefilled;
    decodeTokens += generated;
    prefillNanos += firstTokenNanos;
    decodeNanos += nanos - firstTokenNanos;
  }

  WorkerStats snapshot(String worker, String role, String model, int contextLength, int queue, int running, long cacheBytes,
      int sessions, boolean draining, long cacheBytesInUse, long cacheCapacityBytes) {
    return new WorkerStats(worker, role, model, contextLength, queue, running, steps, batchedSequenceSteps, prefillTokens,
        decodeTokens, prefillNanos, decodeNanos, cacheHits, cacheMisses, cacheEvictions, cacheBytes, sessions,
        requests, rejected, unseenTokens, requestsDone, busyNanos, System.nanoTime() - startNanos, prefixCacheHits,
        prefixCacheTokens, preemptions, draining, cacheBytesInUse, cacheCapacityBytes);
  }
}

package io.tandem.inference.scripted;

import io.tandem.inference.Sequence;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * A scripted model that takes as long as a real one would, by its {@link LatencyModel}: a named
 * simulation for sizing deployments and measuring orchestration, not a test double for waiting.
 */
public final class SimulatedModel extends ScriptedModel {

  private final LatencyModel latency;

  /** A script of {@code tokens} (one text per position) that takes {@code latency}'s time per pass. */
  public SimulatedModel(String name, List<String> tokens, LatencyModel latency) {
    super(name, tokens);
    this.latency = latency;
  }

  /** The latency model this simulation follows. */
  public LatencyModel latency() {
    return latency;
  }

  /** As the script, after the time the {@link LatencyModel} gives this batch. */
  @Override
  public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
    int prefilled = 0;
    for (Sequence s : batch) prefilled += Math.max(0, s.length() - s.processedLength() - 1);
    long until = System.nanoTime() + latency.forwardNanos(batch.size(), prefilled);
    int[] next = super.forward(batch, maxPrefillTokens);
    // The pass "computes" until its modelled time is over.
    for (long left = until - System.nanoTime(); left > 0; left = until - System.nanoTime())
      LockSupport.parkNanos(left);
    return next;
  }
}

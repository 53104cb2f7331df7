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

  public SimulatedModel(String name, List<String> tokens, LatencyModel latency) {
    super(name, tokens);
    this.latency = latency;
  }

  public LatencyModel latency() {
    return latency;
  }

  @Override
  public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
    int prefilled = 0;
    for (Sequence s : batch) prefilled += Math.max(0, s.length() - s.processedLength() - 1);
    long until = System.nanoTime() + latency.stepNanos(batch.size(), prefilled);
    int[] next = super.forward(batch, maxPrefillTokens);
    // The step "computes" until its modelled time is over.
    for (long left = until - System.nanoTime(); left > 0; left = until - System.nanoTime())
      LockSupport.parkNanos(left);
    return next;
  }
}

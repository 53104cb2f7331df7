package io.tandem.orchestrator.session;

import io.tandem.inference.Sequence;
import io.tandem.inference.scripted.ScriptedModel;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A scripted model that holds its step when any sequence is about to write position
 * {@code gateAt}, until the test opens the gate: lets a test act "mid-session" without sleeping.
 */
final class GatedModel extends ScriptedModel {
  final CountDownLatch reached = new CountDownLatch(1);
  final CountDownLatch open = new CountDownLatch(1);
  private final int gateAt;
  private final int promptTokens;

  GatedModel(String name, List<String> tokens, int gateAt) {
    super(name, tokens);
    this.gateAt = gateAt;
    this.promptTokens = 1;
  }

  @Override
  public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
    for (Sequence s : batch) {
      if (s.length() - promptTokens == gateAt) {
        reached.countDown();
        try {
          if (!open.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    return super.forward(batch, maxPrefillTokens);
  }
}

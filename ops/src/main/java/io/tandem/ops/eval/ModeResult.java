package io.tandem.ops.eval;

import java.util.Map;

/**
 * What one mode did over the problem set. Speeds are wall-clock over the whole run with the
 * given concurrency, as a server would see them.
 *
 * @param answered problems whose response has a boxed answer at all
 * @param failed problems that failed (a worker's error): counted wrong, and left out of {@code avgTokens}
 * @param avgTokens mean completion tokens per problem that did not fail
 * @param tokensPerS completion tokens of all problems over the wall time
 * @param smallShare share of output tokens the small model wrote (the rest: the large model and injected text)
 * @param stepSeconds per role ({@code small}, {@code large}) that ran steps: the time of a model
 *     step at its worker, from the request's arrival (before any tokenizing) to its result, the
 *     queue included; through an engine that is the hop, the engine's own queue and its work
 */
public record ModeResult(
    String mode,
    int problems,
    int correct,
    int answered,
    int failed,
    double avgTokens,
    double tokensPerS,
    double problemsPerS,
    double takeoversPerProblem,
    double smallShare,
    double largeShare,
    double injectedShare,
    double wallSeconds,
    Map<String, StepSeconds> stepSeconds) {

  /** The median and 99th percentile of {@code steps} step times, in seconds. */
  public record StepSeconds(int steps, double p50, double p99) {}

  public ModeResult {
    stepSeconds = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(stepSeconds)); // roles in name order
  }

  /** A result without step times. */
  public ModeResult(String mode, int problems, int correct, int answered, int failed, double avgTokens, double tokensPerS,
      double problemsPerS, double takeoversPerProblem, double smallShare, double largeShare, double injectedShare,
      double wallSeconds) {
    this(mode, problems, correct, answered, failed, avgTokens, tokensPerS, problemsPerS, takeoversPerProblem, smallShare,
        largeShare, injectedShare, wallSeconds, Map.of());
  }

  public double accuracy() {
    return problems == 0 ? 0 : (double) correct / problems;
  }
}
